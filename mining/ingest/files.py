"""Reading one file, telling whole-file problems (the stage stops) from bad rows (quarantined).

Whole-file problems name the file and what was expected: missing, empty, header only, a
delimiter other than the configured one, bytes that are not in the configured encoding (with
their offset), a truncated or corrupt gzip stream. Rows that cannot be parsed (a CSV row with too
few or too many fields, a JSON line that does not parse) are returned with their line number
and reason, for the quarantine: nothing is dropped silently.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv


class IngestError(RuntimeError):
    """A whole-source problem: the stage stops and names the file and what was expected."""


@dataclass
class FileRead:
    frame: pd.DataFrame  # parsed rows, with `_source` and `_row` (1-based line, or row number)
    rejected: pd.DataFrame  # unparseable rows: source, row, reasons, record (the raw text)


REJECTED_COLUMNS = ["source", "row", "reasons", "record"]
DELIMITERS = ",;\t|"


def _open_text(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def check_stream(path: Path, encoding: str, chunk: int = 1 << 20) -> None:
    """Decode the whole file once: a truncated gzip or a bad byte stops here with its offset."""
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


def _header(path: Path, encoding: str) -> str:
    with _open_text(path) as fh:
        return fh.readline().decode(encoding, errors="replace").rstrip("\r\n")


def check_delimiter(path: Path, delimiter: str, encoding: str) -> None:
    """A header that splits into one column on `delimiter` but several on another is a wrong delimiter."""
    header = _header(path, encoding)
    if len(next(csv.reader([header], delimiter=delimiter))) > 1:
        return
    for other in DELIMITERS.replace(delimiter, ""):
        if len(next(csv.reader([header], delimiter=other))) > 1:
            raise IngestError(f"{path}: header {header[:80]!r} has one column when split on {delimiter!r} but "
                              f"several on {other!r}; set data.delimiter: {other!r} or fix the file")


def read_csv(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> FileRead:
    check_stream(path, encoding)
    check_delimiter(path, delimiter, encoding)
    bad: list[dict] = []

    def reject(row) -> str:
        bad.append({"source": str(path), "row": row.number, "record": row.text,
                    "reasons": f"parse: {row.actual_columns} fields, expected {row.expected_columns}"})
        return "skip"

    try:  # single-threaded so that the parser knows each bad row's line number
        table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False, encoding=encoding),
                               parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=reject),
                               convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            raise IngestError(f"{path}: file is empty (expected a header and rows)") from None
        raise IngestError(f"{path}: cannot be parsed as CSV: {exc}") from None
    df = table.to_pandas()
    skipped = {b["row"] for b in bad}
    lines = [n for n in range(2, len(df) + len(bad) + 2) if n not in skipped]
    df.insert(0, "_row", lines[: len(df)])
    df.insert(0, "_source", str(path))
    return FileRead(df, pd.DataFrame(bad, columns=REJECTED_COLUMNS))


def read_jsonl(path: Path, encoding: str = "utf-8") -> FileRead:
    check_stream(path, encoding)
    records, lines, bad = [], [], []
    with _open_text(path) as fh:
        for n, raw in enumerate(fh, start=1):
            text = raw.decode(encoding).strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                bad.append({"source": str(path), "row": n, "reasons": f"parse: not JSON ({exc.msg} at column {exc.colno})",
                            "record": text[:2000]})
                continue
            if not isinstance(obj, dict):
                bad.append({"source": str(path), "row": n, "reasons": "parse: a JSON line must be an object",
                            "record": text[:2000]})
                continue
            records.append(obj)
            lines.append(n)
    df = pd.DataFrame.from_records(records)
    df.insert(0, "_row", lines)
    df.insert(0, "_source", str(path))
    return FileRead(df, pd.DataFrame(bad, columns=REJECTED_COLUMNS))


def read_file(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> FileRead:
    """One CSV (also .gz), Parquet or JSON-lines file, with its row origin and its unparseable rows."""
    if not path.exists():
        raise IngestError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: file is empty (expected a header and rows)")
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        read = read_csv(path, "\t" if name.endswith(".tsv") else delimiter, encoding)
    elif name.endswith((".parquet", ".pq")):
        try:
            df = pd.read_parquet(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise IngestError(f"{path}: not a readable Parquet file ({exc})") from None
        df.insert(0, "_row", range(1, len(df) + 1))
        df.insert(0, "_source", str(path))
        read = FileRead(df, pd.DataFrame(columns=REJECTED_COLUMNS))
    elif name.endswith((".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")):
        read = read_jsonl(path, encoding)
    else:
        raise IngestError(f"{path}: unknown file type (expected .csv, .csv.gz, .tsv, .parquet or .jsonl)")
    if read.frame.empty and read.rejected.empty:
        raise IngestError(f"{path}: has a header but no rows")
    if read.frame.empty:
        raise IngestError(f"{path}: none of its {len(read.rejected)} rows could be parsed "
                          f"(first: line {read.rejected['row'].iloc[0]}: {read.rejected['reasons'].iloc[0]})")
    return read
