"""A column contract and its check: types, required columns, ranges, allowed values, unique keys.

Every failing row is kept, with every check it failed (not only the first), so that
rows_in == rows_valid + rows_quarantined always holds and a person can act on the reasons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api import types as ptypes

from mining.ingest.files import IngestError

TYPES = ("int", "float", "bool", "string", "category", "datetime")
ORIGIN = ["_source", "_row"]
_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
         "t": True, "f": False, "y": True, "n": False}


@dataclass
class Validated:
    valid: pd.DataFrame
    quarantine: pd.DataFrame  # one row per failing input row: origin, reasons, original record
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
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().mean() >= share:
        ok = num.dropna()
        return "int" if np.all(np.mod(ok, 1) == 0) else "float"
    if s.str.lower().isin(_BOOL.keys()).mean() >= share:
        return "bool"
    if s.str.match(r"^\d{4}-\d{2}-\d{2}").mean() >= share:
        return "datetime"
    return "category" if s.nunique() <= max(50, len(s) // 20) else "string"


def coerce(s: pd.Series, kind: str) -> pd.Series:
    """`s` as the schema's type; values that do not fit become missing (and fail the type check).

    Arrow's vectorised casts take the common, clean case; pandas' tolerant parsers take a column
    that Arrow refuses (a stray word among numbers, mixed timestamp formats and time zones)."""
    if kind == "int" and ptypes.is_integer_dtype(s):
        return s.astype("Int64")
    if kind in ("int", "float"):
        if ptypes.is_bool_dtype(s) or ptypes.is_numeric_dtype(s):
            out = s.astype("float64")
        elif ptypes.is_object_dtype(s):  # mixed values (JSON numbers and text): pandas parses them in one pass
            out = pd.to_numeric(s, errors="coerce").astype("float64")
        else:
            out = _arrow_cast(s, pa.int64() if kind == "int" else pa.float64())
            if out is None:
                out = _numbers_tolerantly(s)
            elif kind == "int":
                return out
        if kind == "int":
            return out.where(np.mod(out, 1) == 0).astype("Int64")
        return out
    if kind == "bool":
        if ptypes.is_bool_dtype(s):
            return s.astype("boolean")
        text = pc.utf8_lower(pc.utf8_trim_whitespace(_text(s)))
        yes = pc.is_in(text, pa.array([k for k, v in _BOOL.items() if v]))
        no = pc.is_in(text, pa.array([k for k, v in _BOOL.items() if not v]))
        return pd.Series(pc.if_else(yes, True, pc.if_else(no, False, None)).to_pandas(
            types_mapper={pa.bool_(): pd.BooleanDtype()}.get), index=s.index)
    if kind == "datetime":
        return _datetime(s)
    out = s if ptypes.is_string_dtype(s) and not ptypes.is_object_dtype(s) else s.astype("str")
    return out.astype("category") if kind == "category" else out


def _as_text(s: pd.Series) -> pd.Series:
    """Text as it is (no copy for a text column), anything else written as text."""
    return s if ptypes.is_string_dtype(s) and not ptypes.is_object_dtype(s) else s.astype("str")


def _text(s: pd.Series) -> pa.Array:
    return pa.array(_as_text(s), from_pandas=True, type=pa.string())


def _arrow_cast(s: pd.Series, to: pa.DataType) -> pd.Series | None:
    """The column cast by Arrow, or None when any value does not cast."""
    try:
        arr = pc.cast(pa.array(s, from_pandas=True, type=pa.string()), to)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    mapper = {pa.int64(): pd.Int64Dtype(), pa.float64(): None}
    return pd.Series(arr.to_pandas(types_mapper=mapper.get), index=s.index)


_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_ISO_NAIVE = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$"
_ISO_ZONED = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$"


def _by_pattern(s: pd.Series, patterns: list[tuple[str, pa.DataType]], rest, empty) -> np.ndarray:
    """A column Arrow could not cast whole: the values matching each pattern cast by Arrow, the few
    others (a word among numbers, an unusual date format) by pandas' tolerant parser `rest`.
    Every part comes back as numpy values of `empty`'s dtype (naive UTC for timestamps)."""
    text = _text(s)
    out, done = empty.copy(), np.zeros(len(s), dtype=bool)
    for pattern, to in patterns:
        mask = pc.fill_null(pc.match_substring_regex(text, pattern), False).to_numpy(zero_copy_only=False) & ~done
        if mask.any():
            cast = pc.cast(pc.utf8_trim_whitespace(text.filter(pa.array(mask))), to)
            if pa.types.is_timestamp(to) and to.tz:
                cast = cast.cast(pa.timestamp("us"))  # the UTC instant, without its zone
            out[mask] = cast.to_numpy(zero_copy_only=False)
            done |= mask
    other = ~done & s.notna().to_numpy()
    if other.any():
        out[other] = np.asarray(rest(s[other]))
    return out


def _numbers_tolerantly(s: pd.Series) -> pd.Series:
    out = _by_pattern(s, [(_NUMBER, pa.float64())], lambda x: pd.to_numeric(x, errors="coerce").astype("float64"),
                      np.full(len(s), np.nan))
    return pd.Series(out, index=s.index)


def _datetime(s: pd.Series) -> pd.Series:
    """Naive UTC timestamps: ISO text without a zone is taken as UTC, offsets are applied."""
    if ptypes.is_datetime64_any_dtype(s):
        out = s
    else:
        out = None
        if not ptypes.is_numeric_dtype(s):
            for to in (pa.timestamp("us"), pa.timestamp("us", "UTC")):
                try:
                    arr = pc.cast(_text(s), to)
                    out = pd.Series(arr.to_pandas(), index=s.index)
                    break
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    continue
        if out is None:
            def rest(x: pd.Series) -> np.ndarray:
                parsed = pd.to_datetime(x, errors="coerce", utc=True, format="mixed")
                return parsed.dt.tz_localize(None).astype("datetime64[us]").to_numpy()

            out = pd.Series(_by_pattern(s, [(_ISO_NAIVE, pa.timestamp("us")), (_ISO_ZONED, pa.timestamp("us", "UTC"))],
                                        rest, np.full(len(s), np.datetime64("NaT"), dtype="datetime64[us]")),
                            index=s.index)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.astype("datetime64[us]")


class KeyIndex:
    """Keys seen so far, as sorted 64-bit hashes: uniqueness across chunks and joins (events to
    entities) in bounded memory (8 bytes a key: 80 MB for 10 M keys)."""

    def __init__(self) -> None:
        self._seen = np.empty(0, dtype="uint64")

    def __len__(self) -> int:
        return len(self._seen)

    @staticmethod
    def hashes(values: pd.Series) -> np.ndarray:
        """Keys compared as text, so that 42 in a CSV and 42 in a JSON log are one key."""
        return pd.util.hash_pandas_object(_as_text(values), index=False, categorize=False).to_numpy()

    def contains(self, values: pd.Series) -> np.ndarray:
        return self._contains(self.hashes(values))

    def _contains(self, h: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self._seen, h)
        return (pos < len(self._seen)) & (self._seen[np.minimum(pos, len(self._seen) - 1)] == h) \
            if len(self._seen) else np.zeros(len(h), dtype=bool)

    def add(self, values: pd.Series) -> np.ndarray:
        """Mark each non-missing value already seen (earlier in this call or before) as a
        duplicate, and remember the rest."""
        present = values.notna().to_numpy()
        dup = np.zeros(len(values), dtype=bool)
        if not present.any():
            return dup
        h = self.hashes(values[present])
        seen_before = self._contains(h)
        again = pd.Series(h).duplicated(keep="first").to_numpy()
        dup[present] = seen_before | again
        new = np.unique(h[~(seen_before | again)])
        self._seen = np.insert(self._seen, np.searchsorted(self._seen, new), new)
        return dup


def content_checks(schema: dict[str, dict]) -> pandera.DataFrameSchema:
    """The contract's value checks as a pandera schema: required (not nullable), ranges and
    allowed values; each check is named by the reason a quarantined row carries."""
    columns = {}
    for col, spec in schema.items():
        kind, checks = spec["type"], []
        if spec.get("min") is not None:
            lo = _bound(spec["min"], kind)
            checks.append(pandera.Check(lambda x, lo=lo: x >= lo, name=f"range:{col} (< {spec['min']})"))
        if spec.get("max") is not None:
            hi = _bound(spec["max"], kind)
            checks.append(pandera.Check(lambda x, hi=hi: x <= hi, name=f"range:{col} (> {spec['max']})"))
        if spec.get("allowed") is not None:
            allowed = pd.Series(spec["allowed"]).astype(str).tolist()
            checks.append(pandera.Check(lambda x, a=allowed: x.astype(str).isin(a), name=f"allowed:{col}"))
        columns[col] = pandera.Column(nullable=not spec.get("required"), checks=checks, required=False,
                                      name=col)
    return pandera.DataFrameSchema(columns)


def _failures(typed: pd.DataFrame, checks: pandera.DataFrameSchema) -> pd.DataFrame:
    """Every (row, reason) pandera finds, collected lazily: all failures, not only the first."""
    try:
        checks.validate(typed, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        reason = np.where(fc["check"] == "not_nullable", "missing:" + fc["column"].astype(str), fc["check"])
        return pd.DataFrame({"pos": fc["index"].astype("int64").to_numpy(), "column": fc["column"].to_numpy(),
                             "reason": reason})
    return pd.DataFrame({"pos": pd.Series(dtype="int64"), "column": pd.Series(dtype=object),
                         "reason": pd.Series(dtype=object)})


def validate(df: pd.DataFrame, schema: dict[str, dict], table: str, source: str,
             keys: dict[str, KeyIndex] | None = None, absent: str = "raise") -> Validated:
    """Check `df` against `schema`; return typed valid rows and quarantined rows with reasons.

    `keys` carries unique columns' keys across chunks; `absent="null"` treats a required column
    missing from this chunk (a JSON log block without the field) as missing values, not a
    whole-file error."""
    unknown = {c: spec.get("type") for c, spec in schema.items() if spec.get("type") not in TYPES}
    if unknown:
        raise IngestError(f"schema of {table}: unknown type(s) {unknown}; expected one of {TYPES}")
    missing = [c for c, spec in schema.items() if spec.get("required") and c not in df.columns]
    if missing and absent == "raise":
        have = [c for c in df.columns if c not in ORIGIN]
        raise IngestError(f"{source}: required column(s) {missing} missing (have: {have})")

    df = df.reset_index(drop=True)
    typed = df.copy()
    found: list[pd.DataFrame] = []
    order = {c: i for i, c in enumerate(schema)}
    for col, spec in schema.items():
        raw = typed[col] if col in typed.columns else pd.Series(pd.NA, index=df.index, dtype=object)
        val = coerce(raw, spec["type"])
        bad = (raw.notna() & val.isna()).to_numpy()
        if bad.any():
            found.append(pd.DataFrame({"pos": np.flatnonzero(bad), "column": col,
                                       "reason": f"type:{col} (expected {spec['type']})"}))
        if spec.get("unique"):
            dup = (keys[col].add(val) if keys is not None and col in keys
                   else (val.notna() & val.duplicated(keep="first")).to_numpy())
            if dup.any():
                found.append(pd.DataFrame({"pos": np.flatnonzero(dup), "column": col, "reason": f"duplicate:{col}"}))
        typed[col] = val
    checked = _failures(typed, content_checks(schema))
    found.append(checked)
    fails = pd.concat(found, ignore_index=True)
    # a value that did not parse is reported as a type failure, not again as missing
    typed_bad = fails[fails["reason"].str.startswith("type:")][["pos", "column"]].assign(_t=True)
    fails = fails.merge(typed_bad, on=["pos", "column"], how="left")
    fails = fails[~(fails["_t"].fillna(False).astype(bool) & fails["reason"].str.startswith("missing:"))]
    kind_rank = {"type": 0, "missing": 1, "range": 2, "allowed": 3, "duplicate": 4}
    fails = fails.assign(c=fails["column"].map(order), k=fails["reason"].str.split(":").str[0].map(kind_rank))
    fails = fails.drop_duplicates(["pos", "reason"]).sort_values(["pos", "c", "k", "reason"], kind="stable")
    counts = {r: int(n) for r, n in fails["reason"].value_counts(sort=False).items()}
    reasons = fails.groupby("pos", sort=True)["reason"].agg("; ".join)
    bad = np.zeros(len(df), dtype=bool)
    bad[reasons.index.to_numpy()] = True
    quarantine = quarantine_frame(df[bad], pd.Series(reasons.to_numpy(), index=df.index[bad]), table)
    return Validated(typed[~bad].reset_index(drop=True), quarantine, counts)


def _bound(value, kind: str):
    return pd.Timestamp(value) if kind == "datetime" else value


def quarantine_frame(rows: pd.DataFrame, reasons: pd.Series, table: str) -> pd.DataFrame:
    """Failing rows in one shape whatever their table: origin, reasons, the original record as JSON."""
    record_cols = [c for c in rows.columns if c not in ORIGIN]
    records = rows[record_cols].astype(object).where(rows[record_cols].notna(), None)
    return pd.DataFrame({
        "table": table,
        "source": rows["_source"].astype(str).to_numpy(),
        "row": rows["_row"].astype("int64").to_numpy(),
        "reasons": reasons.to_numpy(),
        "record": [json.dumps(r, default=str) for r in records.to_dict("records")],
    })
