"""Outcomes from operations (curriculum 9.7): a file or table of id, outcome and date, checked row by
row, pseudonymised with the log's key into the feedback table, and the realised performance of
each model version that made the decisions.

Operations know weeks later who really left (the CRM, the collections system). `mining outcomes`
takes their export as it is: CSV or Parquet, or a table behind a SQLAlchemy URL. A row that cannot
be read stops the import naming the file, row and field; nothing is dropped silently. Outcomes for
ids the API never scored are kept (a decision may be logged later, or by another log) and counted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score

from mining.deploy.inference_log import TABLE as LOG, engine_for
from mining.monitor.feedback import iso, write_feedback
from mining.monitor.windows import auc_standard_error
from mining.secrets import expand_env

COLUMNS = ("id", "outcome", "date")
TRUE, FALSE = {"1", "true", "yes", "y"}, {"0", "false", "no", "n"}


class OutcomeError(ValueError):
    """An outcome row could not be read: which file, row and field, and what was expected."""


def read_outcomes(source: str, table: str | None = None) -> tuple[pd.DataFrame, str]:
    """(the rows, where they came from): a CSV or Parquet path, or `table` at a SQLAlchemy URL."""
    if "://" in source:
        if not table:
            raise OutcomeError(f"{source}: a database source needs --table (the table of id, outcome, date)")
        engine = sa.create_engine(expand_env(source))
        try:
            with engine.connect() as con:
                return pd.read_sql(sa.select(sa.table(table, *(sa.column(c) for c in COLUMNS))), con), f"table {table}"
        except sa.exc.DBAPIError as exc:
            raise OutcomeError(f"table {table}: could not read id, outcome, date ({exc.orig})") from exc
        finally:
            engine.dispose()
    path = Path(source)
    if not path.exists():
        raise OutcomeError(f"{path}: no such file")
    if path.suffix == ".parquet":
        return pd.read_parquet(path), str(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False), str(path)


def validated(rows: pd.DataFrame, where: str) -> pd.DataFrame:
    """id (text), outcome (0/1), date (UTC); OutcomeError naming the first bad row and field."""
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        raise OutcomeError(f"{where}: missing column(s) {missing}; expected {list(COLUMNS)} (got {list(rows.columns)})")
    ids = rows["id"].astype("string").str.strip()
    outcome = rows["outcome"].astype("string").str.strip().str.lower()
    dates = pd.to_datetime(rows["date"].astype("string"), errors="coerce", utc=True, format="mixed")
    for field, bad, expected in (("id", ids.isna() | (ids == ""), "a customer id"),
                                 ("outcome", ~outcome.isin(TRUE | FALSE), "1/0, true/false or yes/no"),
                                 ("date", dates.isna(), "a date (ISO 8601)")):
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            line = f" (line {first + 2})" if where.endswith(".csv") else ""  # after the header line
            raise OutcomeError(f"{where}: row {first + 1}{line}, field {field}: {rows[field].iloc[first]!r} is not "
                               f"{expected} ({int(bad.sum())} such row(s))")
    return pd.DataFrame({"id": ids.astype(str), "outcome": outcome.isin(TRUE).astype(int), "date": dates})


def logged_ids(url: str) -> set[str]:
    """The pseudonyms the log has decided about (what an outcome can be joined to)."""
    engine = engine_for(url)
    try:
        with engine.connect() as con:
            return {r for (r,) in con.execute(sa.select(LOG.c.record_id).distinct()) if r is not None}
    finally:
        engine.dispose()


def import_outcomes(url: str, outcomes: pd.DataFrame, pseudonym, logged_ids: set[str]) -> dict:
    """Write the validated outcomes to the feedback table of `url` (ids pseudonymised, arrived at
    their date); how many were written and how many match a logged decision."""
    ids = [pseudonym(i) for i in outcomes["id"]]
    written = write_feedback(url, [{"record_id": rid, "outcome": int(o), "arrived_at": iso(d)}
                                   for rid, o, d in zip(ids, outcomes["outcome"], outcomes["date"])])
    matched = sum(rid in logged_ids for rid in ids)
    return {"written": written, "matched": matched, "unmatched": written - matched}


def realised_by_version(scored: pd.DataFrame) -> pd.DataFrame:
    """Per model version, on its live decisions (the latest per id) whose outcome arrived: how many,
    the realised ROC AUC with its standard error, and the precision and recall of its flags."""
    live = scored[(scored["route"] != "shadow") & scored["record_id"].notna()]
    rows = []
    for version, group in live.sort_values("at").drop_duplicates(["model_version", "record_id"], keep="last").groupby(
            "model_version"):
        known = group[group["target"].notna()]
        y, s = known["target"].to_numpy(int), known["score"].to_numpy(float)
        flagged = (known["decision"] == "flagged").to_numpy()
        both = len(np.unique(y)) == 2
        auc = float(roc_auc_score(y, s)) if both else None
        rows.append({"model_version": version, "decisions": len(group), "labelled": len(known),
                     "positives": int(y.sum()), "realised_roc_auc": auc,
                     "realised_roc_auc_se": auc_standard_error(auc, int(y.sum()), int(len(y) - y.sum())) if both else None,
                     "realised_precision": float(y[flagged].mean()) if flagged.any() else None,
                     "realised_recall": float(flagged[y == 1].mean()) if y.any() else None,
                     "first": group["at"].min(), "last": group["at"].max()})
    return pd.DataFrame(rows)
