"""A column contract and its check: types, required columns, ranges, allowed values, unique keys.

Every failing row is kept, with every check it failed (not only the first), so that
rows_in == rows_valid + rows_quarantined always holds and a person can act on the reasons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
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


def infer_schema(df: pd.DataFrame, required: list[str] = (), unique: list[str] = ()) -> dict[str, dict]:
    """A schema from the data itself: the type most values have; other values then fail the check."""
    schema: dict[str, dict] = {}
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


def _coerce(s: pd.Series, kind: str) -> pd.Series:
    if kind in ("int", "float"):
        out = pd.to_numeric(s, errors="coerce") if not ptypes.is_bool_dtype(s) else s.astype(float)
        if kind == "int":
            out = out.where(np.mod(out, 1) == 0)
            return out.astype("Int64")
        return out.astype("float64")
    if kind == "bool":
        if ptypes.is_bool_dtype(s):
            return s.astype("boolean")
        return s.astype(str).str.strip().str.lower().map(_BOOL).where(s.notna()).astype("boolean")
    if kind == "datetime":
        if ptypes.is_datetime64_any_dtype(s):
            out = s
        else:
            out = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert("UTC").dt.tz_localize(None)
        return out.astype("datetime64[us]")
    out = s.astype("string")
    return out.astype("category") if kind == "category" else out


def validate(df: pd.DataFrame, schema: dict[str, dict], table: str, source: str) -> Validated:
    """Check `df` against `schema`; return typed valid rows and quarantined rows with reasons."""
    unknown = {c: spec.get("type") for c, spec in schema.items() if spec.get("type") not in TYPES}
    if unknown:
        raise IngestError(f"schema of {table}: unknown type(s) {unknown}; expected one of {TYPES}")
    missing = [c for c, spec in schema.items() if spec.get("required") and c not in df.columns]
    if missing:
        have = [c for c in df.columns if c not in ORIGIN]
        raise IngestError(f"{source}: required column(s) {missing} missing (have: {have})")

    reasons = pd.Series("", index=df.index, dtype=object)
    counts: dict[str, int] = {}

    def flag(mask: pd.Series, reason: str) -> None:
        mask = mask.fillna(False).astype(bool)
        n = int(mask.sum())
        if n:
            counts[reason] = counts.get(reason, 0) + n
            reasons[mask] = reasons[mask] + reason + "; "

    typed = df.copy()
    for col, spec in schema.items():
        if col not in df.columns:
            typed[col] = pd.Series(pd.NA, index=df.index)
        raw = typed[col]
        kind = spec["type"]
        val = _coerce(raw, kind)
        flag(raw.notna() & val.isna(), f"type:{col} (expected {kind})")
        if spec.get("required"):
            flag(raw.isna(), f"missing:{col}")
        if "min" in spec and spec["min"] is not None:
            flag(val.notna() & (val < _bound(spec["min"], kind)), f"range:{col} (< {spec['min']})")
        if "max" in spec and spec["max"] is not None:
            flag(val.notna() & (val > _bound(spec["max"], kind)), f"range:{col} (> {spec['max']})")
        if spec.get("allowed") is not None:
            allowed = pd.Series(spec["allowed"]).astype(str).tolist()
            flag(val.notna() & ~val.astype(str).isin(allowed), f"allowed:{col}")
        if spec.get("unique"):
            flag(val.notna() & val.duplicated(keep="first"), f"duplicate:{col}")
        typed[col] = val

    bad = reasons != ""
    quarantine = quarantine_frame(df[bad], reasons[bad].str.rstrip("; "), table)
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
