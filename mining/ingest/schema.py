"""A column contract and its check: types, required columns, ranges, allowed values, unique keys.

Every failing row is kept, with every check it failed (not only the first), so that
rows_in == rows_valid + rows_quarantined always holds and a person can act on the reasons.

Chunks stay in Arrow / polars end to end (pandas only for the few failing rows): values are cast
to the contract's types by polars (vectorised, multi-threaded; pandas' tolerant parser only for the
odd timestamps polars does not read), and the value checks are a pandera schema (polars backend)
compiled from the contract, validated lazily so that every failure is collected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api import types as ptypes

from mining.data.files import ORIGIN, UNREAD, IngestError, arrow_from_pandas

if TYPE_CHECKING:
    import pandera.polars as pandera

TYPES = ("int", "float", "bool", "string", "category", "datetime")
HIDDEN = [*ORIGIN, UNREAD]  # the reader's columns, not the source's: origin, and values a number read kept as text
_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
         "t": True, "f": False, "y": True, "n": False}


@dataclass
class Validated:
    valid: pd.DataFrame
    quarantine: pd.DataFrame  # one row per failing input row: origin, reasons, original record
    check_counts: dict[str, int]


@dataclass
class CheckedTable:
    valid: pl.DataFrame  # typed rows that passed every check, origin columns kept
    quarantine: pd.DataFrame
    check_counts: dict[str, int]


INFER_ROWS = 100_000  # rows the inferred types are read from: the first chunk's head


def infer_schema(df: pd.DataFrame, required: list[str] = (), unique: list[str] = ()) -> dict[str, dict]:
    """A schema from the data itself: the type most values have; other values then fail the check."""
    schema: dict[str, dict] = {}
    df = df.head(INFER_ROWS)
    for col in df.columns.drop(ORIGIN, errors="ignore"):
        s = df[col].dropna()
        if ptypes.is_bool_dtype(s):
            kind = "bool"
        elif ptypes.is_integer_dtype(s):
            kind = "int"
        elif ptypes.is_float_dtype(s):
            kind = "int" if len(s) and np.all(np.mod(s, 1) == 0) and s.abs().max() < 2**53 else "float"
        elif ptypes.is_datetime64_any_dtype(s):
            kind = "datetime"
        else:
            kind = _infer_text(s.astype(str))
        schema[col] = {"type": kind, "required": col in required}
        if col in unique:
            schema[col]["unique"] = True
    return schema


def _infer_text(s: pd.Series, share: float = 0.95) -> str:
    if s.empty:
        return "string"
    num = cast(pl.Series(s.to_numpy(dtype=object), dtype=pl.Utf8), "float")  # as the check will read it
    if num.is_not_null().mean() >= share:
        ok = num.drop_nulls()
        return "int" if ok.is_finite().all() and (ok == ok.floor()).all() else "float"
    if s.str.lower().isin(_BOOL.keys()).mean() >= share:
        return "bool"
    if s.str.match(r"^\d{4}-\d{2}-\d{2}").mean() >= share:
        return "datetime"
    return "category" if s.nunique() <= max(50, len(s) // 20) else "string"


def cast(raw: pl.Series, kind: str) -> pl.Series:
    """`raw` as the schema's type; values that do not fit become null (and fail the type check)."""
    dt = raw.dtype
    if kind in ("int", "float"):
        exact = None
        if dt == pl.Boolean or dt.is_numeric() or dt == pl.Null:
            num = raw.cast(pl.Float64)
        elif kind == "int":  # digits parse exactly (a float holds 53 bits); 3.0 or 1e3 go by way of a float
            text = raw.cast(pl.Utf8)
            exact = _number(text, pl.Int64)
            if exact.null_count() == text.null_count():
                return exact.alias(raw.name)
            num = _number(text, pl.Float64)
        else:
            num = _number(raw.cast(pl.Utf8), pl.Float64)
        if kind == "float":
            return num
        if dt.is_integer():
            return raw.cast(pl.Int64)
        whole = num.is_finite() & (num == num.floor()) & (num.abs() < 2.0**63)
        as_int = pl.when(whole).then(num).otherwise(None).cast(pl.Int64)
        return pl.select(pl.coalesce(exact, as_int) if exact is not None else as_int).to_series().alias(raw.name)
    if kind == "bool":
        if dt == pl.Boolean:
            return raw
        text = raw.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
        return text.replace_strict(_BOOL, default=None, return_dtype=pl.Boolean)
    if kind == "datetime":
        return _datetime(raw)
    return raw.cast(pl.Utf8) if dt != pl.Utf8 else raw


def _number(text: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Text as numbers; only a value that does not parse is tried again without surrounding blanks."""
    out = text.cast(dtype, strict=False)
    retry = (out.is_null() & text.is_not_null()).arg_true()
    if len(retry):
        out = out.scatter(retry, text.gather(retry).str.strip_chars().cast(dtype, strict=False))
    return out


def _datetime(raw: pl.Series) -> pl.Series:
    """Naive UTC timestamps: ISO text without a zone is taken as UTC, offsets are applied; a value
    in a format polars does not infer goes through pandas' tolerant parser (mixed formats)."""
    if isinstance(raw.dtype, pl.Datetime):
        out = raw
    elif raw.dtype == pl.Date:
        out = raw.cast(pl.Datetime("us"))
    elif raw.dtype in (pl.Utf8, pl.Null) or raw.dtype == pl.Categorical:
        text = raw.cast(pl.Utf8)
        # the common ISO form in one fast pass (Arrow's ISO-8601 cast, else polars' strptime), the rest
        # by polars' strptime, polars' format inference, and what is left (mixed formats) by pandas
        out = _iso_seconds(text)
        passes = [_iso_strptime, _infer_datetimes, _pandas_datetimes]
        if out is None:
            out, passes = _iso_strptime(text), passes[1:]
        for parse in passes:
            left = (text.is_not_null() & out.is_null()).to_numpy()
            if not left.any():
                break
            idx = np.flatnonzero(left)
            out = out.scatter(idx, parse(text.gather(idx)))
        out = out.alias(raw.name)
    else:
        return pl.Series(raw.name, [None] * len(raw), dtype=pl.Datetime("us"))
    return _naive_utc(out).cast(pl.Datetime("us"))


ISO_SECONDS = len("2025-01-01T00:00:00")


def _iso_seconds(text: pl.Series) -> pl.Series | None:
    """The values written as 2025-01-01T00:00:00 (or with a blank for the T) read by Arrow's ISO-8601
    cast, in a third of polars' strptime's time; values of another length null. None where a value of
    that length is not such a time (Arrow then refuses the whole column): polars' strptime reads it."""
    iso = text.str.len_bytes() == ISO_SECONDS
    if not iso.any():
        return None
    same = text if iso.all() else text.zip_with(iso, pl.Series([None], dtype=pl.Utf8))
    try:
        return pl.from_arrow(pc.cast(same.to_arrow(), pa.timestamp("us")))
    except pa.ArrowInvalid:  # 2025-02-30T00:00:00, a zone offset, anything else of 19 bytes
        return None


def _iso_strptime(text: pl.Series) -> pl.Series:
    """The ISO form by polars' strptime (glibc's and Arrow's strptime roll 2025-02-30 over to 2 March;
    without polars' cache of parsed values, which event times rarely repeat: half the time)."""
    return text.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False, cache=False)


def _infer_datetimes(text: pl.Series) -> pl.Series:
    try:
        return _naive_utc(text.str.to_datetime(strict=False, time_unit="us")).cast(pl.Datetime("us"))
    except pl.exceptions.ComputeError:  # no format could be inferred from the first value
        return pl.Series([None] * len(text), dtype=pl.Datetime("us"))


def _pandas_datetimes(text: pl.Series) -> pl.Series:
    parsed = pd.to_datetime(pd.Series(text.to_list(), dtype=object), errors="coerce", utc=True, format="mixed")
    return pl.Series(parsed.dt.tz_localize(None).astype("datetime64[us]").to_numpy())


def _naive_utc(s: pl.Series) -> pl.Series:
    return s.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if getattr(s.dtype, "time_zone", None) else s


class KeyIndex:
    """Keys seen so far, as sorted 64-bit hashes: uniqueness across chunks and joins (events to
    entities) in bounded memory (8 bytes a key: 80 MB for 10 M keys)."""

    TOP_BYTE = np.arange(1, 256, dtype="uint64") << np.uint64(56)  # where each top byte's hashes begin

    def __init__(self) -> None:
        self._seen = np.empty(0, dtype="uint64")  # sorted: the head of `_room`
        self._room = self._seen  # grown by half at a time, so that a block's insert allocates nothing
        self._copies = 0  # second copies of keys added again (see `_merge`)

    def __len__(self) -> int:
        return len(self._seen) - self._copies

    @classmethod
    def of(cls, hashes: np.ndarray) -> KeyIndex:
        """An index holding these key hashes (a block's keys that an earlier block had)."""
        index = cls()
        index._seen = index._room = distinct_sorted(np.asarray(hashes, dtype="uint64"))
        return index

    @staticmethod
    def hashes(values: pl.Series) -> np.ndarray:
        """Keys compared as text, so that 42 in a CSV and 42 in a JSON log are one key."""
        return values.cast(pl.Utf8).hash(seed=0).to_numpy()

    def contains(self, values: pl.Series) -> np.ndarray:
        return self.contains_hashes(self.hashes(values))

    def contains_hashes(self, h: np.ndarray) -> np.ndarray:
        order = np.argsort(h)  # sorted needles: the search walks the index in order (cache-friendly)
        found = np.empty(len(h), dtype=bool)
        found[order] = self._holds_sorted(h[order])
        return found

    def _holds_sorted(self, s: np.ndarray) -> np.ndarray:
        """Which of the sorted hashes `s` the index holds. Searched range by range of the hashes' top byte:
        each binary search then stays within 1/256 of the index, in cache (10 M keys: half the time of
        one search over the whole index, whose every step but the last few missed the cache)."""
        found = np.zeros(len(s), dtype=bool)
        if not len(self._seen):
            return found
        ranges = len(self.TOP_BYTE) + 1 if len(self._seen) >= 1 << 16 and len(s) >= 1 << 10 else 1
        held = np.searchsorted(self._seen, self.TOP_BYTE)[:ranges - 1] if ranges > 1 else []
        asked = np.searchsorted(s, self.TOP_BYTE)[:ranges - 1] if ranges > 1 else []
        for h0, h1, a0, a1 in zip([0, *held], [*held, len(self._seen)], [0, *asked], [*asked, len(s)]):
            if h1 > h0 and a1 > a0:
                part, needles = self._seen[h0:h1], s[a0:a1]
                found[a0:a1] = part[np.minimum(np.searchsorted(part, needles), len(part) - 1)] == needles
        return found

    def add(self, values: pl.Series) -> np.ndarray:
        """Mark each non-null value already seen (earlier in this call or before) as a duplicate,
        and remember the rest."""
        return self.add_hashed(HashedKeys.of(values))

    def add_hashed(self, keys: HashedKeys) -> np.ndarray:
        """`add` for keys hashed and sorted beforehand: only the merge (which finds the repeats) is left,
        the part that must follow source order."""
        dup = np.zeros(len(keys.present), dtype=bool)
        if not len(keys.sorted):
            return dup
        fresh = np.flatnonzero(~keys.again)  # each key's first row in the block
        repeat = keys.again.copy()
        repeat[fresh] = self._merge(keys.sorted[fresh])
        flags = np.empty(len(keys.sorted), dtype=bool)
        flags[keys.order] = repeat
        dup[keys.present] = flags
        return dup

    def add_hashes(self, h: np.ndarray) -> np.ndarray:
        """Which of these distinct hashes were already held; all of them are held afterwards."""
        order = np.argsort(h)
        seen_before = np.empty(len(h), dtype=bool)
        seen_before[order] = self._merge(h[order])
        return seen_before

    def _merge(self, new: np.ndarray) -> np.ndarray:
        """Insert sorted, distinct hashes; which of them the index held before. The merge finds those
        itself: a key held before lands next to its copy, so one pass comparing neighbours finds them all,
        where a binary search per key took twice as long at 10 M keys. The copy stays (removing it would
        cost a pass over the index): the index holds keys added again twice, which no search minds, until
        copies are a sixteenth of it (a source sent twice), when one pass removes them."""
        held = len(self._seen)
        self._insert(new)
        found = np.zeros(len(new), dtype=bool)
        if held and len(new):
            merged = self._seen
            twice = merged[1:][merged[1:] == merged[:-1]]  # keys held before, added again now or earlier
            at = np.minimum(np.searchsorted(new, twice), len(new) - 1)
            found[at[new[at] == twice]] = True
            self._copies += int(np.count_nonzero(found))
        if self._copies > len(self._seen) // 16:
            distinct = self._seen[np.r_[True, self._seen[1:] != self._seen[:-1]]]
            self._room[:len(distinct)] = distinct
            self._seen, self._copies = self._room[:len(distinct)], 0
        return found

    def _insert(self, new: np.ndarray) -> None:
        """Merge sorted, new hashes into the sorted index, in place: a stable sort of two sorted runs
        is Timsort's linear merge (3x faster than np.insert on 10 M keys), and a fresh array per
        block (80 MB at 10 M keys) cost more in page faults than the merge itself."""
        if not len(new):
            return
        held, total = len(self._seen), len(self._seen) + len(new)
        if total > len(self._room):
            room = np.empty(max(total, len(self._room) * 3 // 2), dtype="uint64")
            room[:held] = self._seen
            self._room = room
        self._room[held:total] = new
        self._seen = self._room[:total]
        self._seen.sort(kind="stable")


@dataclass
class HashedKeys:
    """A block's keys of a unique column, hashed and sorted: most of a uniqueness check's work,
    and it needs no other block, so blocks do it with their own checks, at once (numpy's sort and
    polars release the GIL); one sort serves the lookup and the insert."""

    present: np.ndarray  # rows with a value
    order: np.ndarray  # the hashes' sort order
    sorted: np.ndarray  # the hashes in that order
    again: np.ndarray  # in that order: a value an earlier row of the block had (its first row is kept)

    @classmethod
    def of(cls, values: pl.Series) -> HashedKeys:
        present = values.is_not_null().to_numpy()
        if not present.any():
            empty = np.empty(0, dtype="uint64")
            return cls(present, empty.astype("int64"), empty, np.empty(0, dtype=bool))
        h = KeyIndex.hashes(values.filter(pl.Series(present)))
        order = np.argsort(h)
        s = h[order]
        return cls(present, order, s, _again_sorted(s, order))


def _again_sorted(s: np.ndarray, order: np.ndarray) -> np.ndarray:
    """In sorted order, the hashes an earlier row already had: every member of a run of equal
    hashes but the one of the earliest row (runs are rare: sorting them again costs nothing)."""
    again = np.zeros(len(s), dtype=bool)
    eq = s[1:] == s[:-1]
    if eq.any():
        at = np.flatnonzero(np.r_[eq, False] | np.r_[False, eq])
        at = at[np.lexsort((order[at], s[at]))]  # by hash, then by row
        runs = s[at]
        again[at[1:][runs[1:] == runs[:-1]]] = True
    return again


def distinct_sorted(h: np.ndarray) -> np.ndarray:
    """Sorted, each value once (a sort and a neighbour test: faster than np.unique's hash table)."""
    h = np.sort(h)
    return h[np.r_[True, h[1:] != h[:-1]]] if len(h) else h


def content_checks(schema: dict[str, dict]) -> tuple[pandera.DataFrameSchema | None, dict[tuple[str, int], str]]:
    """The contract's value checks (ranges, allowed values) as a pandera schema, with the reason each
    (column, check number) gives a quarantined row; only columns that have such checks (None without any)."""
    if not any(spec.get(k) is not None for spec in schema.values() for k in ("min", "max", "allowed")):
        return None, {}
    import pandera.polars as pandera  # here, not at import: 0.2 s, for contracts that have value checks

    columns, reasons = {}, {}
    for col, spec in schema.items():
        kind, checks = spec["type"], []
        if spec.get("min") is not None:
            reasons[(col, len(checks))] = f"range:{col} (< {spec['min']})"
            checks.append(pandera.Check.ge(_bound(spec["min"], kind)))
        if spec.get("max") is not None:
            reasons[(col, len(checks))] = f"range:{col} (> {spec['max']})"
            checks.append(pandera.Check.le(_bound(spec["max"], kind)))
        if spec.get("allowed") is not None:
            reasons[(col, len(checks))] = f"allowed:{col}"
            allowed = [str(a) for a in spec["allowed"]]
            checks.append(pandera.Check.isin(allowed if kind in ("string", "category") else spec["allowed"]))
        if checks:
            columns[col] = pandera.Column(None, nullable=True, checks=checks, required=False)
    return pandera.DataFrameSchema(columns), reasons


@dataclass
class Failed:
    """Rows failing a check: their positions, the column and the reason (from pandera, one of each a row)."""
    pos: np.ndarray
    column: str | list[str]
    reason: str | list[str]


def _failures(typed: pl.DataFrame, schema: dict[str, dict]) -> list[Failed]:
    """Every (row, column, reason) failing a value check: a missing value in a required column (null, or
    NaN in a float column, as pandera counts it), then what pandera finds, collected lazily: all
    failures, not only the first. pandera runs only over columns with value checks: its null checks of
    every required column took 30 % of a block's checks."""
    found = []
    for col, spec in schema.items():
        if spec.get("required"):
            values = typed[col]
            missing = values.is_null() | values.is_nan() if values.dtype.is_float() else values.is_null()
            if missing.any():
                found.append(Failed(np.flatnonzero(missing.to_numpy()), col, f"missing:{col}"))
    checks, reasons = content_checks(schema)
    if checks is None:
        return found
    import pandera.polars as pandera

    try:
        checks.validate(typed.select(list(checks.columns)), lazy=True)
    except pandera.errors.SchemaErrors as exc:
        fc = exc.failure_cases.filter(pl.col("index").is_not_null()).to_pandas()
        reason = [reasons.get((c, int(n)) if n == n else None, chk)
                  for c, chk, n in zip(fc["column"], fc["check"], fc["check_number"])]
        found.append(Failed(fc["index"].astype("int64").to_numpy(), fc["column"].tolist(), reason))
    return found


KIND_RANK = {"type": 0, "missing": 1, "range": 2, "allowed": 3, "duplicate": 4}


@dataclass
class TypedBlock:
    """A block typed and checked row by row (`type_block`), waiting for the checks across blocks."""
    raw: pl.DataFrame
    typed: pl.DataFrame
    found: list[Failed]  # every failure found so far
    hashed: dict[str, HashedKeys]  # unique columns' keys, ready for `KeyIndex.add_hashed`


def validate_table(raw: pl.DataFrame, schema: dict[str, dict], table: str, source: str,
                   keys: dict[str, KeyIndex] | None = None, absent: str = "raise") -> CheckedTable:
    """Check a chunk against `schema`: typed valid rows, and quarantined rows with every reason.

    `keys` carries unique columns' keys across chunks; `absent="null"` treats a required column
    missing from this chunk (a JSON log block without the field) as missing values, not a
    whole-file error."""
    return check_keys(type_block(raw, schema, table, source, absent), schema, table, keys)


def type_block(raw: pl.DataFrame, schema: dict[str, dict], table: str, source: str,
               absent: str = "raise") -> TypedBlock:
    """The checks that need only this block (types, required, ranges, allowed values): blocks can
    run them at once, in any order."""
    unknown = {c: spec.get("type") for c, spec in schema.items() if spec.get("type") not in TYPES}
    if unknown:
        raise IngestError(f"schema of {table}: unknown type(s) {unknown}; expected one of {TYPES}")
    missing = [c for c, spec in schema.items() if spec.get("required") and c not in raw.columns]
    if missing and absent == "raise":
        have = [c for c in raw.columns if c not in ORIGIN]
        raise IngestError(f"{source}: required column(s) {missing} missing (have: {have})")

    found: list[Failed] = []
    typed_cols = {}
    unread = unread_values(raw)
    for col, spec in schema.items():
        val, bad = typed_column(raw, col, spec["type"], unread)
        if bad.any():
            found.append(Failed(np.flatnonzero(bad), col, f"type:{col} (expected {spec['type']})"))
        typed_cols[col] = val
    typed = raw.with_columns(list(typed_cols.values())).drop(UNREAD, strict=False)
    found += _failures(typed, schema)
    hashed = {c: HashedKeys.of(typed[c]) for c, spec in schema.items() if spec.get("unique")}
    return TypedBlock(raw, typed, found, hashed)


def typed_column(raw: pl.DataFrame, col: str, kind: str,
                 unread: dict[str, tuple[np.ndarray, list[str]]]) -> tuple[pl.Series, np.ndarray]:
    """A column as the contract's type, and the rows whose value did not fit (null where absent); values
    the reader kept as text (`unread_values`) are typed as text is."""
    values = raw[col] if col in raw.columns else pl.Series(col, [None] * len(raw), dtype=pl.Null)
    val = cast(values, kind)
    bad = (values.is_not_null() & val.is_null()).to_numpy()
    if col in unread:
        at, text = unread[col]
        fixed = cast(pl.Series(col, text, dtype=pl.Utf8), kind)
        val = val.scatter(at, fixed)
        bad = bad.copy()
        bad[at[fixed.is_null().to_numpy()]] = True
    return val.alias(col), bad


def unread_values(raw: pl.DataFrame) -> dict[str, tuple[np.ndarray, list[str]]]:
    """column -> (rows, texts) of the values a number read kept as text (the reader's `UNREAD`)."""
    if UNREAD not in raw.columns:
        return {}
    kept = raw[UNREAD]
    out: dict[str, tuple[list[int], list[str]]] = {}
    for row, text in zip(kept.is_not_null().arg_true().to_list(), kept.drop_nulls().to_list()):
        for col, value in json.loads(text).items():
            out.setdefault(col, ([], []))[0].append(row)
            out[col][1].append(value)
    return {col: (np.array(rows, dtype="int64"), texts) for col, (rows, texts) in out.items()}


def check_keys(block: TypedBlock, schema: dict[str, dict], table: str,
               keys: dict[str, KeyIndex] | None = None) -> CheckedTable:
    """Uniqueness against the keys of every earlier block (so blocks come here in source order),
    then every failure of a row as one quarantined row."""
    raw, typed, found = block.raw, block.typed, list(block.found)
    for col, spec in schema.items():
        if spec.get("unique"):
            index = keys[col] if keys is not None and col in keys else KeyIndex()
            dup = index.add_hashed(block.hashed[col])
            if dup.any():
                found.append(Failed(np.flatnonzero(dup), col, f"duplicate:{col}"))
    at, reasons, counts = _reasons(found, schema)
    if not len(at):
        return CheckedTable(typed, quarantine_frame(raw.head(0).to_pandas(), pd.Series(dtype=object), table), {})
    bad = np.zeros(len(raw), dtype=bool)
    bad[at] = True
    rows = raw.filter(pl.Series(bad)).to_pandas(use_pyarrow_extension_array=True)  # whole numbers stay whole
    quarantine = quarantine_frame(rows, pd.Series(reasons), table)
    return CheckedTable(without_rows(typed, bad), quarantine, counts)


def _reasons(found: list[Failed], schema: dict[str, dict]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(failing rows in order, each one's reasons joined, failures per reason). A row's reasons come in
    the contract's column order, then by kind of check, each once; a value that did not parse is
    reported as a type failure, not again as missing. Numpy over codes of the few distinct (reason,
    column) pairs: a block's handful of failures cost microseconds, a block of them all not much more."""
    pairs: dict[tuple[str, str], int] = {}
    pos, code = [], []
    for f in found:
        many = not isinstance(f.reason, str)
        pos.append(np.asarray(f.pos, dtype="int64"))
        code.append(np.array([pairs.setdefault(p, len(pairs)) for p in zip(f.reason, f.column)], dtype="int64")
                    if many else np.full(len(f.pos), pairs.setdefault((f.reason, f.column), len(pairs)), "int64"))
    if not pairs or not sum(map(len, pos)):
        return np.empty(0, "int64"), np.empty(0, object), {}
    pos, code = np.concatenate(pos), np.concatenate(code)
    texts, columns = list(dict.fromkeys(r for r, _ in pairs)), list(dict.fromkeys(c for _, c in pairs))
    text = np.array([texts.index(r) for r, _ in pairs])  # each pair's reason and column as numbers
    column = np.array([columns.index(c) for _, c in pairs])
    kind = [r.split(":")[0] for r, _ in pairs]
    typ, missing = np.array([k == "type" for k in kind]), np.array([k == "missing" for k in kind])
    if typ[code].any():
        cell = pos * len(columns) + column[code]
        again = missing[code] & np.isin(cell, cell[typ[code]])
        pos, code = pos[~again], code[~again]
    first = np.sort(np.unique(pos * len(texts) + text[code], return_index=True)[1])  # each (row, reason) once
    pos, code = pos[first], code[first]
    order, rank = {c: i for i, c in enumerate(schema)}, {r: i for i, r in enumerate(sorted(texts))}
    by_column = np.array([order.get(c, len(order)) for _, c in pairs])  # other columns (and kinds) last
    by_kind = np.array([KIND_RANK.get(k, len(KIND_RANK)) for k in kind])
    by_text = np.array([rank[r] for r, _ in pairs])
    o = np.lexsort((by_text[code], by_kind[code], by_column[code], pos))  # stable: ties keep their order
    pos, reason = pos[o], text[code[o]]
    seen, first_at, n = np.unique(reason, return_index=True, return_counts=True)
    counts = {texts[seen[i]]: int(n[i]) for i in np.argsort(first_at)}  # in order of first appearance
    starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
    ends = np.r_[starts[1:], len(pos)]
    named = np.array(texts, dtype=object)
    joined = named[reason[starts]]
    for g in np.flatnonzero(ends - starts > 1):
        joined[g] = "; ".join(named[reason[starts[g]:ends[g]]])
    return pos[starts], joined, counts


def without_rows(frame: pl.DataFrame, drop: np.ndarray, slices: int = 64) -> pl.DataFrame:
    """`frame` less the rows `drop` marks. A few rows: the runs between them as zero-copy slices, since a
    filter copies every column (10-30 ms a 32 MB block, in the ordered step) for a handful of bad rows."""
    at = np.flatnonzero(drop)
    if len(at) > slices:
        return frame.filter(pl.Series(~drop))
    runs = [frame.slice(start, end - start) for start, end in zip(np.r_[0, at + 1], np.r_[at, len(drop)]) if end > start]
    return pl.concat(runs, rechunk=False) if runs else frame.clear()


def validate(df: pd.DataFrame, schema: dict[str, dict], table: str, source: str,
             keys: dict[str, KeyIndex] | None = None, absent: str = "raise") -> Validated:
    """`validate_table` for a pandas frame (small sources, micro-batches, tests)."""
    checked = validate_table(to_polars(df), schema, table, source, keys, absent)
    return Validated(to_pandas(checked.valid, schema), checked.quarantine, checked.check_counts)


def to_polars(df: pd.DataFrame) -> pl.DataFrame:
    return pl.from_arrow(arrow_from_pandas(df))


PANDAS_TYPES = {"int": "Int64", "bool": "boolean", "category": "category"}


def to_pandas(df: pl.DataFrame, schema: dict[str, dict]) -> pd.DataFrame:
    return pandas_of(df.to_arrow(), schema)


def pandas_of(table: pa.Table, schema: dict[str, dict]) -> pd.DataFrame:
    """Arrow rows as pandas with the contract's types. Whole numbers with gaps go straight to
    nullable Int64: by way of float64, as pandas converts them, they would lose digits past 2**53."""
    out = table.to_pandas()
    for col in (c for c, spec in schema.items() if spec["type"] == "int" and c in table.column_names):
        if table[col].null_count:
            out[col] = table[col].to_pandas(types_mapper=pd.ArrowDtype).astype("Int64")
    return with_pandas_types(out, schema)


def with_pandas_types(out: pd.DataFrame, schema: dict[str, dict]) -> pd.DataFrame:
    """Typed rows with the contract's pandas types (nullable ints and booleans, categories)."""
    for col, spec in schema.items():
        if col in out.columns and spec["type"] in PANDAS_TYPES:
            out[col] = out[col].astype(PANDAS_TYPES[spec["type"]])
    return out


def _bound(value, kind: str):
    return pd.Timestamp(value).to_pydatetime() if kind == "datetime" else value


def quarantine_frame(rows: pd.DataFrame, reasons: pd.Series, table: str) -> pd.DataFrame:
    """Failing rows in one shape whatever their table: origin, reasons, the original record as JSON
    (with the values a number read kept as text, as they were written)."""
    record_cols = [c for c in rows.columns if c not in HIDDEN]
    records = rows[record_cols].astype(object).where(rows[record_cols].notna(), None).to_dict("records")
    if UNREAD in rows.columns:
        for record, text in zip(records, rows[UNREAD]):
            if isinstance(text, str):
                record.update(json.loads(text))
    return pd.DataFrame({
        "table": table,
        "source": rows["_source"].astype(str).to_numpy(),
        "row": rows["_row"].astype("int64").to_numpy(),
        "reasons": reasons.to_numpy(),
        "record": [json.dumps(r, default=str) for r in records],
    })
