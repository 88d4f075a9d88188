"""Reading one file in bounded memory, telling whole-file problems (the stage stops) from bad rows.

Files are read block by block (`iter_file` yields `Chunk`s of parsed rows), so a 10 M-row source
never sits in memory whole. Whole-file problems name the file and what was expected: missing,
empty, header only, a delimiter other than the configured one, bytes that are not in the
configured encoding (with their offset), a truncated or corrupt gzip stream. Rows that cannot be
parsed (a CSV row with too few or too many fields, a JSON line that does not parse) are returned
with their line number and reason, for the quarantine: nothing is dropped silently.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import json
import mmap
import os
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pandas.api import types as ptypes


class IngestError(RuntimeError):
    """A whole-source problem: the stage stops and names the file and what was expected."""


@dataclass
class FileRead:
    frame: pd.DataFrame  # parsed rows, with `_source` and `_row` (1-based line, or row number)
    rejected: pd.DataFrame  # unparseable rows: source, row, reasons, record (the raw text)


@dataclass
class Chunk:
    """One block of a source: parsed rows (Arrow, with `_source` and `_row`) and unparseable ones.

    A JSON-lines block read with `numbers` holds the fields it read as floats in `numbers`, each value
    that was not a number in the column `UNREAD`, and `as_text` reads the block again with those
    fields as text (for a contract that types one of them otherwise)."""

    table: pa.Table
    rejected: pd.DataFrame
    numbers: frozenset[str] = frozenset()
    as_text: Callable[[], Chunk] | None = None

    @property
    def frame(self) -> pd.DataFrame:
        return self.table.to_pandas()

REJECTED_COLUMNS = ["source", "row", "reasons", "record"]
ORIGIN = ["_source", "_row"]  # the columns a reader puts in front of every row: its file (or URI) and line
DELIMITERS = ",;\t|"
# Bytes of text parsed at a time (bounds memory whatever the file's size). Under 32 MiB, glibc's largest
# threshold for serving an allocation by its own mapping: a JSON block's copy (polars reads bytes) then
# reuses the heap that earlier copies freed, instead of pages mapped, zeroed by the kernel and unmapped for
# each block (a copy took 20-30 ms instead of 5; a tenth less system time over a 10 M-line log).
BLOCK_BYTES = (32 << 20) - (1 << 20)


def _open_text(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def check_stream(path: Path, encoding: str, chunk: int = 1 << 20) -> None:
    """Decode the whole file: a truncated gzip or a bad byte stops here with its offset.

    Called only once a fast reader has failed, to say exactly where and why."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    try:
        with _open_text(path) as fh:
            while block := fh.read(chunk):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    at = offset + exc.start
                    raise IngestError(f"{path}: byte 0x{block[exc.start]:02x} at offset {at} is not valid "
                                      f"{encoding}; set data.encoding to the file's encoding (e.g. latin-1)") from None
                offset += len(block)
            decoder.decode(b"", final=True)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IngestError(f"{path}: gzip stream is truncated or corrupt after {offset} bytes ({exc})") from None


def _header(path: Path, encoding: str) -> bytes:
    """The first line, as it is in the file (its newline too)."""
    try:
        with _open_text(path) as fh:
            return fh.readline()
    except (EOFError, gzip.BadGzipFile, zlib.error):
        check_stream(path, encoding)
        raise


def check_delimiter(path: Path, delimiter: str, encoding: str) -> tuple[list[str], int]:
    """The header's column names and its length in bytes (where the rows begin); a header that is
    one column on `delimiter` but several on another is a wrong delimiter."""
    line = _header(path, encoding)
    header = line.decode(encoding, errors="replace").rstrip("\r\n")
    if not header.strip():
        raise IngestError(f"{path}: file is empty (expected a header and rows)")
    names = next(csv.reader([header], delimiter=delimiter))
    if len(names) > 1:
        return names, len(line)
    for other in DELIMITERS.replace(delimiter, ""):
        if len(next(csv.reader([header], delimiter=other))) > 1:
            raise IngestError(f"{path}: header {header[:80]!r} has one column when split on {delimiter!r} but "
                              f"several on {other!r}; set data.delimiter: {other!r} or fix the file")
    return names, len(line)


def _lines_for(start: int, n: int, skip: np.ndarray) -> np.ndarray:
    """Line numbers of `n` parsed rows from line `start` on, skipping rejected lines."""
    lines = np.arange(start, start + n + len(skip))
    return lines[~np.isin(lines, skip)][:n]


EMPTY = pa.table({"_source": pa.array([], pa.string()), "_row": pa.array([], pa.int64())})


def with_origin(table: pa.Table, source: str, rows: np.ndarray) -> pa.Table:
    """The rows with their origin in front: the source (dictionary-encoded: one string stored) and line."""
    where = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(rows), dtype="int32")), pa.array([source]))
    return pa.Table.from_arrays([where, pa.array(rows.astype("int64")), *table.columns],
                                names=[*ORIGIN, *table.column_names])


def arrow_from_pandas(df: pd.DataFrame) -> pa.Table:
    """A pandas frame as Arrow; an object column of mixed values (JSON numbers and text, nested
    objects) becomes text, left for the schema to type."""
    safe = df.copy()
    for col in df.columns:
        if ptypes.is_object_dtype(df[col]):
            safe[col] = df[col].map(lambda v: v if v is None or isinstance(v, str) or v != v else
                                    (json.dumps(v) if isinstance(v, (dict, list)) else str(v)))
    return pa.Table.from_pandas(safe, preserve_index=False)


def concat(tables: list[pa.Table]) -> pa.Table:
    """Blocks of one source as one table: a column whose type differs between blocks becomes text."""
    tables = [t for t in tables if t.num_columns]
    if not tables:
        return EMPTY
    types: dict[str, set] = {}
    for t in tables:
        for f in t.schema:
            types.setdefault(f.name, set()).add(f.type)
    mixed = {n for n, ts in types.items() if len(ts - {pa.null()}) > 1}
    if mixed:
        tables = [t.cast(pa.schema([pa.field(f.name, pa.string()) if f.name in mixed else f for f in t.schema]))
                  for t in tables]
    return pa.concat_tables(tables, promote_options="permissive")


def _rejected(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=REJECTED_COLUMNS)


def _csv_block(block: bytes | memoryview, first_line: int, names: list[str], path: Path, offset: int, delimiter: str,
               encoding: str) -> Chunk:
    """One newline-ended piece of a CSV, parsed on its own (single-threaded, so the parser numbers
    each bad row; pieces parse in parallel): every column as text."""
    bad: list[dict] = []

    def reject(row) -> str:
        line = first_line + row.number - 1
        bad.append({"source": str(path), "row": line, "record": row.text,
                    "reasons": f"parse: {row.actual_columns} fields, expected {row.expected_columns}"})
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(block),  # the block itself (a view of the file), not a copy
            read_options=pacsv.ReadOptions(use_threads=False, encoding=encoding, column_names=names,
                                           block_size=len(block) + 1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=reject),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True, column_types={n: pa.string() for n in names}))
    except (pa.ArrowInvalid, OSError) as exc:
        try:
            bytes(block).decode(encoding)
        except UnicodeDecodeError as bad_byte:
            raise IngestError(f"{path}: byte 0x{block[bad_byte.start]:02x} at offset {offset + bad_byte.start} is "
                              f"not valid {encoding}; set data.encoding to the file's encoding (e.g. latin-1)") from None
        raise IngestError(f"{path}: cannot be parsed as CSV near line {first_line}: {exc}") from None
    skip = np.array(sorted(b["row"] for b in bad), dtype="int64")
    return Chunk(with_origin(table, str(path), _lines_for(first_line, table.num_rows, skip)), _rejected(bad))


def iter_csv(path: Path, delimiter: str = ",", encoding: str = "utf-8", block_bytes: int = BLOCK_BYTES,
             workers: int | None = None, digest=None) -> Iterator[Chunk]:
    """CSV blocks, every column as text (types are the schema's business, so that one bad value
    in row 9,000,000 is quarantined instead of failing the read); pieces parsed at once by
    `in_parallel`, each bad row with its exact line number."""
    names, header = check_delimiter(path, delimiter, encoding)

    def pieces() -> Iterator[tuple[int, int, bytes | memoryview]]:
        line = 1
        for offset, block in _text_blocks(path, block_bytes, digest):
            if line == 1:
                block, offset, line = block[header:], offset + header, 2
            if bytes(block[:1]).strip(b"\r\n") or bytes(block).strip(b"\r\n"):  # a row, not blank lines only
                yield offset, line, block
            line += lines_in(block)

    yield from in_parallel(pieces(), lambda offset, line, block: _csv_block(block, line, names, path, offset,
                                                                            delimiter, encoding), workers)


LINE_STEP = 1 << 20  # bytes a newline count covers (`line_counts`)


def lines_in(block: bytes) -> int:
    """Newlines in a block (see `line_counts`)."""
    return int(line_counts(block).sum())


def line_counts(block: bytes | memoryview) -> np.ndarray:
    """Newlines in each megabyte of a block, counted by numpy (`bytes.count` holds the GIL the parse
    threads need) a megabyte at a time: the comparison's scratch array stays in cache instead of being
    a fresh 32 MB (3 ms a block instead of 6-8 ms alone, and 60 ms while the parse threads fill
    memory). The counts also find a given line's bytes without a pass over the block (`_lines_at`)."""
    raw = np.frombuffer(block, np.uint8)
    return np.array([np.count_nonzero(raw[i:i + LINE_STEP] == ord("\n")) for i in range(0, len(raw), LINE_STEP)],
                    dtype="int64")


def _lines_at(block: bytes, rows: np.ndarray, counts: np.ndarray) -> list[bytes]:
    """The lines `rows` (0-based, ascending) of a block, found from its per-megabyte newline counts:
    only the megabytes that hold one of them are searched."""
    raw = np.frombuffer(block, np.uint8)
    ends = np.cumsum(counts)  # newlines up to the end of each megabyte
    wanted = np.unique(np.r_[rows - 1, rows])
    wanted = wanted[wanted >= 0]  # k: the (k+1)-th newline, which ends line k
    offset = np.empty(len(wanted), dtype="int64")
    steps = np.searchsorted(ends, wanted + 1)
    for step in np.unique(steps):
        at = np.flatnonzero(raw[step * LINE_STEP:(step + 1) * LINE_STEP] == ord("\n")) + step * LINE_STEP
        mine = steps == step
        offset[mine] = at[wanted[mine] - (int(ends[step - 1]) if step else 0)]
    newline = {-1: -1, **dict(zip(wanted.tolist(), offset.tolist()))}  # only the newlines asked for
    return [block[newline[r - 1] + 1:newline[r] + 1] for r in rows.tolist()]


def in_parallel(pieces: Iterator[tuple], parse, workers: int | None = None) -> Iterator:
    """`parse(*piece)` for each piece (of a file, or a block to check), `workers` threads at once
    (the parsers and checks release the GIL), yielded in order while the caller handles the previous
    ones. Memory: about `workers` + 2 pieces at a time."""
    workers = workers or os.cpu_count() or 1
    pieces = iter(pieces)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="parse") as pool:
        pending: deque = deque()
        for piece in pieces:
            pending.append(pool.submit(parse, *piece))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _json_lines_slowly(text: list[bytes], first: int, path: Path, encoding: str) -> Chunk:
    """Line by line: for a block with a blank line, a bad line or a field whose type changes."""
    records, lines, bad = [], [], []
    for n, raw in enumerate(text, start=first):
        line = raw.decode(encoding).strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append({"source": str(path), "row": n, "reasons": f"parse: not JSON ({exc.msg} at column {exc.colno})",
                        "record": line[:2000]})
            continue
        if not isinstance(obj, dict):
            bad.append({"source": str(path), "row": n, "reasons": "parse: a JSON line must be an object",
                        "record": line[:2000]})
            continue
        records.append(obj)
        lines.append(n)
    table = arrow_from_pandas(pd.DataFrame.from_records(records)) if records else pa.table({})
    return Chunk(with_origin(table, str(path), np.array(lines, dtype="int64")), _rejected(bad))


def _text_blocks(path: Path, block_bytes: int, digest=None) -> Iterator[tuple[int, bytes | memoryview]]:
    """(byte offset, block) pairs, each block ending at a newline. A plain file's blocks are views of the
    file mapped into memory (`_mapped_blocks`), fed to `digest` (they are its bytes, in order); a gzip
    stream's block is read, then the rest of its last line appended."""
    if not path.name.lower().endswith(".gz"):
        yield from _mapped_blocks(path, block_bytes, digest)
        return
    offset = 0
    try:
        with _open_text(path) as fh:
            while data := fh.read(block_bytes):
                data += fh.readline() if not data.endswith(b"\n") else b""
                yield offset, data if data.endswith(b"\n") else data + b"\n"  # the last line may lack one
                offset += len(data)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IngestError(f"{path}: gzip stream is truncated or corrupt after {offset} bytes ({exc})") from None


def _mapped_blocks(path: Path, block_bytes: int, digest=None) -> Iterator[tuple[int, memoryview | bytes]]:
    """A plain file's blocks, each running on to the end of the line at `block_bytes`, as views of its
    pages mapped into memory: no copy of the text into a fresh buffer, whose pages the kernel zeroes
    first (a quarter of a CSV ingest's page faults, and a fifth of its CPU time in the kernel). Each
    block is mapped on its own and unmapped once the last view of it goes: memory stays a few blocks."""
    with open(path, "rb") as fh:
        size, offset = os.fstat(fh.fileno()).st_size, 0
        while offset < size:
            fh.seek(offset + block_bytes)
            end = min(offset + block_bytes + len(fh.readline()), size)
            start = offset - offset % mmap.ALLOCATIONGRANULARITY  # a mapping starts on a page
            mapped = mmap.mmap(fh.fileno(), end - start, offset=start, access=mmap.ACCESS_READ)
            data = memoryview(mapped)[offset - start:]
            if digest is not None:
                digest.update(data)
            yield offset, data if data[-1:] == b"\n" else bytes(data) + b"\n"  # the last line may lack one
            offset = end


def _json_block(block: bytes, first_line: int, path: Path, encoding: str, utf8: bool,
                min_lines: int = 2048) -> list[Chunk]:
    """polars' multi-threaded parser for a piece with one object per line (a field whose type
    changes becomes text, for the schema to type); a piece it refuses (a bad line, a blank line)
    is halved until the part holding the trouble is small enough for the line-by-line parser, so
    one bad line costs little and the rest stay fast."""
    n_lines = block.count(b"\n")
    try:
        frame = pl.read_ndjson(io.BytesIO(block if utf8 else block.decode(encoding).encode()),
                               infer_schema_length=None)
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError, pl.exceptions.PolarsError):
        frame = None
    if frame is not None and frame.height == n_lines:
        table = _nested_as_json(frame).to_arrow(compat_level=pl.CompatLevel.newest())  # text as views: no copy
        return [Chunk(with_origin(table, str(path), np.arange(first_line, first_line + n_lines)), _rejected([]))]
    if n_lines <= min_lines:
        return [_json_lines_slowly(block.split(b"\n")[:n_lines], first_line, path, encoding)]
    cut = block.index(b"\n", len(block) // 2) + 1
    if cut >= len(block):  # one very long line in the second half: cut before it instead
        cut = block.rindex(b"\n", 0, len(block) - 1) + 1
    left = block[:cut]
    return (_json_block(left, first_line, path, encoding, utf8, min_lines)
            + _json_block(block[cut:], first_line + left.count(b"\n"), path, encoding, utf8, min_lines))


def _flat_json_block(block: bytes, first_line: int, n_lines: int, path: Path,
                     fields: dict[str, pl.DataType], counts: np.ndarray | None = None) -> Chunk | None:
    """A piece whose lines are flat objects of known `fields`, parsed in one pass: a field the first
    piece read as whole numbers as numbers, the rest as text (polars' type inference is a second pass
    over the piece: 2.4x the time; numbers read as text are formatted back into text, a tenth of the
    parse for two whole-number fields). Where a number field holds anything else (text, a fraction),
    the piece is read again with every field as text; with fields read as floats (`iter_jsonl`'s
    `numbers`), such values are found and kept apart instead (`_read_numbers`). None when a lossless
    read cannot be shown, and the piece goes the general way (`_json_block`).

    Shown by counting bytes: no line nests (one `{` a line, no `[`) and no whitespace follows a quote,
    so every key is a `":`; more of those than parsed values plus written nulls means a key the known
    fields lack (or a value lost). Equal counts leave room only for unknown keys whose values are all
    null: nothing is lost."""
    if b"[" in block:
        return None
    braces, keys, spaced = _json_marks(block)
    if braces != n_lines or spaced:
        return None
    text = {f: pl.String for f in fields}
    floats = frozenset(f for f, t in fields.items() if t == pl.Float64)
    read = _read_numbers(block, n_lines, fields, floats, line_counts(block) if counts is None else counts) \
        if floats else None
    if read is not None:
        frame, kept = read
    else:  # the numbers as text where a float read could not show itself lossless
        frame, kept, floats = _read_strict(block, [text] if floats or fields == text else [fields, text]), 0, frozenset()
    if frame is None:
        return None
    values = sum(frame.height - frame[f].null_count() for f in fields) + kept
    if frame.height != n_lines or (keys != values and keys != values + block.count(b'":null') + block.count(b'": null')):
        return None
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())  # text as views, as polars holds it: no copy
    return Chunk(with_origin(table, str(path), np.arange(first_line, first_line + n_lines)), _rejected([]), floats)


def _read_strict(block: bytes, schemas: list[dict[str, pl.DataType]]) -> pl.DataFrame | None:
    """The piece read with the first of `schemas` whose types hold every value (a value one cannot hold
    raises), None when none does."""
    for schema in schemas:
        try:
            return pl.read_ndjson(io.BytesIO(block), schema=schema)
        except pl.exceptions.PolarsError:
            continue
    return None


UNREAD = "_unread"  # a block read with number fields: per row, its values that were not numbers, {field: text}
WHOLE_LIMIT = 2.0 ** 53  # floats hold every whole number below: one above may have lost digits of a long integer


def _read_numbers(block: bytes, n_lines: int, fields: dict[str, pl.DataType], floats: frozenset[str],
                  counts: np.ndarray) -> tuple[pl.DataFrame, int] | None:
    """The piece read with its number fields as numbers, and how many values were not numbers: those
    (a word, a quoted number, a flag in a number field) are read as null, found by reading the few lines
    with a null number as text, and kept in the column `UNREAD` as that text; the schema types them as
    it types text. Parsing a number as text and the text back costs a quarter of the piece's parse.
    None where the text read is as cheap (gaps on many lines) or a float may have lost digits of a
    long whole number (an int contract needs them)."""
    try:
        frame = pl.read_ndjson(io.BytesIO(block), schema=fields, ignore_errors=True)
    except pl.exceptions.PolarsError:
        return None
    typed = [f for f, t in fields.items() if t != pl.String]
    whole = [(pl.col(f).abs() >= WHOLE_LIMIT) & (pl.col(f) == pl.col(f).floor()) for f in floats]
    if frame.height != n_lines or frame.select(pl.any_horizontal(whole).any()).item():
        return None
    rows = frame.select(pl.any_horizontal(pl.col(f).is_null() for f in typed)).to_series().arg_true().to_numpy()
    if not len(rows):
        return frame, 0
    if len(rows) > max(64, n_lines // 100):
        return None
    try:
        again = pl.read_ndjson(io.BytesIO(b"".join(_lines_at(block, rows, counts))), schema={f: pl.String for f in typed})
    except pl.exceptions.PolarsError:
        return None
    if again.height != len(rows):
        return None
    lost = again.select(pl.when(frame[f].gather(rows).is_null()).then(pl.col(f)).alias(f) for f in typed)
    has = lost.select(pl.any_horizontal(pl.all().is_not_null())).to_series().to_numpy()  # not a null or absent key
    if not has.any():
        return frame, 0
    texts = [json.dumps({f: v for f, v in r.items() if v is not None}) for r in lost.filter(has).iter_rows(named=True)]
    unread = pl.repeat(None, n_lines, dtype=pl.String, eager=True).alias(UNREAD).scatter(rows[has], texts)
    return frame.with_columns(unread), sum(lost.height - lost[f].null_count() for f in typed)


QUOTE_COLON, QUOTE_SPACE, QUOTE_TAB, QUOTE_CR = 0x3A22, 0x2022, 0x0922, 0x0D22  # '":', '" ', '"\t', '"\r' as words


def _json_marks(block: bytes, step: int = 1 << 19) -> tuple[int, int, bool]:
    """The `{` of a piece, its `":` (keys), and whether whitespace follows any quote. The two-byte marks
    are read as little-endian 16-bit words, once at even and once at odd offsets: one comparison a
    word instead of a comparison a byte for each of their bytes (11 ms a 32 MB piece instead of 22-35
    ms); a megabyte at a time, so that numpy's scratch arrays stay in cache. A tab or carriage return
    is looked for only where the piece holds one (a quick memchr)."""
    raw = np.frombuffer(block, np.uint8)
    words = (np.frombuffer(block, "<u2", count=len(block) // 2),
             np.frombuffer(block, "<u2", count=max(len(block) - 1, 0) // 2, offset=min(len(block), 1)))
    spaces = [QUOTE_SPACE] + [QUOTE_TAB] * (b"\t" in block) + [QUOTE_CR] * (b"\r" in block)
    half = max(step // 2, 1)  # words a slice
    braces = keys = 0
    spaced = False
    for w in range(0, (len(raw) + 1) // 2, half):
        braces += int(np.count_nonzero(raw[2 * w:2 * (w + half)] == ord("{")))
        for part in (words[0][w:w + half], words[1][w:w + half]):
            keys += int(np.count_nonzero(part == QUOTE_COLON))
            spaced = spaced or any(bool((part == s).any()) for s in spaces)
    return braces, keys, spaced


def _nested_as_json(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested values (objects, lists) as their JSON text: a table column holds scalars."""
    nested = [c for c, t in frame.schema.items() if isinstance(t, (pl.Struct, pl.List, pl.Array))]
    if not nested:
        return frame
    return frame.with_columns([pl.struct(c).struct.json_encode().str.slice(len(c) + 4).str.head(-1).alias(c)
                               for c in nested])


HEAD_BYTES = 1 << 20  # of the first piece: its fields, for the pieces parsed at once with it
WHOLE = {pa.int64(): pl.Int64}  # a first piece's whole-number fields, read as numbers later (decimals stay text: a
# whole number past 2**53 in a decimal field would lose digits as a float, which text keeps for an int contract)
NUMBER_SHARE = 0.99  # with `numbers`: a first-piece field read as floats later when this share of its values are numbers


def iter_jsonl(path: Path, encoding: str = "utf-8", block_bytes: int = BLOCK_BYTES,
               workers: int | None = None, digest=None, numbers: bool = False) -> Iterator[Chunk]:
    """JSON-lines blocks, parsed by polars (pieces at once, by `in_parallel`), with each bad line
    found and the rest kept. The first piece is parsed the general way (polars infers its types, a
    second pass over it); its fields let the later pieces take the one-pass parse of flat records
    (`_flat_json_block`); a piece that may hold anything else goes the general way. The pieces that
    parse while the first one does (on the other cores) take the fields of its head instead: a field
    the head lacks or types otherwise sends them the general way or to text, never to a loss.

    With `numbers` (for a reader that types the rows by a contract, as ingest does), a plain file's
    field whose first-piece values are nearly all numbers is read as floats in later pieces, its other
    values kept apart as text (see `Chunk`); by default every value that is not a whole number is read
    as text."""
    utf8 = encoding.lower().replace("-", "") in ("utf8", "ascii")
    plain = not path.name.lower().endswith(".gz")  # a block is read again from the file, not kept
    fields: dict[str, pl.DataType] = {}  # the first piece's fields, with the type a later piece reads them as

    def pieces() -> Iterator[tuple[int, int, bytes | memoryview, np.ndarray]]:
        first_line = 1
        for offset, block in _text_blocks(path, block_bytes, digest):
            counts = line_counts(block)
            yield offset, first_line, block, counts
            first_line += int(counts.sum())

    def parse(offset: int, first_line: int, view: bytes | memoryview, counts: np.ndarray,
              read_as: dict[str, pl.DataType] | None = None) -> Chunk:
        block = bytes(view)  # polars reads bytes: the view copied here, by the parse threads
        try:
            if not (utf8 and block.isascii()):  # ASCII is valid UTF-8: a scan, not a decoded copy of the piece
                block.decode(encoding)
        except UnicodeDecodeError as exc:
            raise IngestError(f"{path}: byte 0x{block[exc.start]:02x} at offset {offset + exc.start} is not valid "
                              f"{encoding}; set data.encoding to the file's encoding (e.g. latin-1)") from None
        read_as = fields if read_as is None else read_as
        n_lines = int(counts.sum())
        flat = _flat_json_block(block, first_line, n_lines, path, read_as, counts) if read_as and utf8 else None
        if flat is not None:
            if flat.numbers:  # read again from the file when asked: a chunk holds no block
                text_read = {f: pl.String if f in flat.numbers else t for f, t in read_as.items()}
                size = len(view)
                flat.as_text = lambda: parse(offset, first_line, _bytes_at(path, offset, size), counts, text_read)
            return flat
        parts = _json_block(block, first_line, path, encoding, utf8)
        return Chunk(concat([p.table for p in parts if p.table.num_rows]),
                     pd.concat([p.rejected for p in parts], ignore_index=True))

    def fields_of(table: pa.Table, block: bytes) -> dict[str, pl.DataType]:
        floats = _number_fields(table, block) if numbers and plain else set()
        return {f.name: pl.Float64 if f.name in floats else WHOLE.get(f.type, pl.String)
                for f in table.schema if f.name not in ORIGIN}

    def parse_first(offset: int, first_line: int, view: bytes | memoryview, counts: np.ndarray) -> Chunk:
        nonlocal fields
        chunk = parse(offset, first_line, view, counts, read_as={})
        fields = fields_of(chunk.table, bytes(view))  # a new dict: pieces parsing now keep the one they took
        return chunk

    later = pieces()
    if (first := next(later, None)) is None:
        return
    head = bytes(first[2][:HEAD_BYTES])
    head = head[:head.rfind(b"\n") + 1]
    if head and utf8 and head.isascii():  # fields for the pieces parsed at once with the first (a bad head: none)
        fields = fields_of(concat([p.table for p in _json_block(head, 1, path, encoding, utf8)]), head)
    tagged = itertools.chain([(parse_first, *first)], ((parse, *piece) for piece in later))
    yield from in_parallel(tagged, lambda read, *piece: read(*piece), workers)


def _bytes_at(path: Path, offset: int, size: int) -> bytes:
    """A plain file's block again, as `_mapped_blocks` gave it (the last line ended by a newline)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(size)
    return data if data.endswith(b"\n") else data + b"\n"


def _number_fields(table: pa.Table, block: bytes) -> set[str]:
    """The first piece's fields that are floats, or text whose values are nearly all numbers written as
    numbers (a log's amount with an odd "n/a"; not ids written in quotes, which a float read would lose
    on every line): counted from the piece's bytes, `"field":` against `"field":"`."""
    out = set()
    for f in table.schema:
        if pa.types.is_floating(f.type):
            out.add(f.name)
        elif f.name not in ORIGIN and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                                                     or pa.types.is_string_view(f.type)):
            values = pl.from_arrow(table[f.name]).drop_nulls()
            if not len(values) or values.cast(pl.Float64, strict=False).null_count() > (1 - NUMBER_SHARE) * len(values):
                continue
            key = json.dumps(f.name).encode() + b":"  # the bytes counted only for a field of numbers (a pass each)
            written, quoted = block.count(key), block.count(key + b'"') + block.count(key + b' "')
            if written and quoted <= (1 - NUMBER_SHARE) * written:
                out.add(f.name)
    return out


def iter_parquet(path: Path, batch_rows: int = 500_000) -> Iterator[Chunk]:
    try:
        pf = pq.ParquetFile(path)
        start = 1
        for batch in pf.iter_batches(batch_size=batch_rows):
            rows = np.arange(start, start + batch.num_rows)
            start += batch.num_rows
            yield Chunk(with_origin(pa.Table.from_batches([batch]), str(path), rows), _rejected([]))
    except (OSError, pa.ArrowInvalid) as exc:
        raise IngestError(f"{path}: not a readable Parquet file ({exc})") from None


CSV_FILES, JSON_FILES = (".csv", ".txt", ".tsv"), (".jsonl", ".ndjson", ".json")  # read as their own bytes


def feeds_digest(path: Path) -> bool:
    """Whether `iter_file` reads this file's own bytes, block by block (an uncompressed CSV or JSON-lines
    file), and can feed them to a digest: the file is then read once, for its rows and its hash alike."""
    return path.name.lower().endswith(CSV_FILES + JSON_FILES)


def iter_file(path: Path, delimiter: str = ",", encoding: str = "utf-8",
              block_bytes: int = BLOCK_BYTES, digest=None, numbers: bool = False) -> Iterator[Chunk]:
    """One CSV (also .gz), Parquet or JSON-lines file as chunks with their row origin and their
    unparseable rows; a file with no parseable row stops the stage once it has been read. `digest`
    (a hashlib object, for a file that `feeds_digest`) is fed the file's bytes as they are read;
    `numbers`: see `iter_jsonl`."""
    if digest is not None and not feeds_digest(path):
        raise ValueError(f"{path}: its bytes are not read as they are (compressed or Parquet): hash it apart")
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: file is empty (expected a header and rows)")
    name = path.name.lower()
    if name.endswith((*CSV_FILES, ".csv.gz")):
        chunks = iter_csv(path, "\t" if name.endswith(".tsv") else delimiter, encoding, block_bytes, digest=digest)
    elif name.endswith((".parquet", ".pq")):
        chunks = iter_parquet(path)
    elif name.endswith((*JSON_FILES, ".jsonl.gz", ".ndjson.gz")):
        chunks = iter_jsonl(path, encoding, block_bytes, digest=digest, numbers=numbers)
    else:
        raise IngestError(f"{path}: unknown file type (expected .csv, .csv.gz, .tsv, .parquet or .jsonl)")
    parsed, first_bad = 0, None
    n_bad = 0
    for chunk in chunks:
        parsed += chunk.table.num_rows
        n_bad += len(chunk.rejected)
        if first_bad is None and len(chunk.rejected):
            first_bad = chunk.rejected.iloc[0]
        yield chunk
    if not parsed and not n_bad:
        raise IngestError(f"{path}: has a header but no rows")
    if not parsed:
        raise IngestError(f"{path}: none of its {n_bad} rows could be parsed "
                          f"(first: line {first_bad['row']}: {first_bad['reasons']})")


def collect(chunks: Iterator[Chunk]) -> FileRead:
    """All chunks as one frame: for small sources and tests; the stage itself streams."""
    tables, rejected = [], []
    for c in chunks:
        tables.append(c.table)
        rejected.append(c.rejected)
    return FileRead(concat(tables).to_pandas(), pd.concat(rejected, ignore_index=True) if rejected else _rejected([]))


def read_file(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> FileRead:
    """One file, whole (see `iter_file`)."""
    return collect(iter_file(path, delimiter, encoding))
