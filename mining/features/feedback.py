"""Labelled feedback as training rows: the records the API scored whose outcomes came back.

`mining retrain` writes them (the inputs as scored, the outcome, when, by which version) to the
catalog's `feedback_rows`; the features stage appends them to the training split, never to the
holdout, so the evaluation stays comparable across retrains. The file always exists (empty until
a retrain), so `dvc repro` can track it as the features stage's input.
"""

from __future__ import annotations

import pandas as pd

from mining import atomic
from mining.catalog import Catalog

COLUMNS = ["record_id", "scored_at", "model_version", "target"]


def write_rows(root, rows: pd.DataFrame) -> int:
    """Replace the labelled feedback with `rows` (COLUMNS and the model inputs)."""
    missing = [c for c in COLUMNS if c not in rows]
    if missing:
        raise ValueError(f"feedback rows lack {missing}")
    path = Catalog(root)["feedback_rows"]
    atomic.save(path, lambda p: rows.to_parquet(p, index=False))
    return len(rows)


def ensure(root) -> int:
    """The feedback file, made empty when there is none yet (what the DVC stage `feedback` runs);
    how many rows it holds."""
    path = Catalog(root)["feedback_rows"]
    if not path.exists():
        return write_rows(root, pd.DataFrame({c: pd.Series(dtype=float if c == "target" else str) for c in COLUMNS}))
    return len(pd.read_parquet(path))


def with_feedback(frame: pd.DataFrame, definitions: dict, root, id_column: str | None) -> tuple[pd.DataFrame, int]:
    """`frame` with the labelled feedback appended as training rows; how many were appended."""
    path = Catalog(root)["feedback_rows"]
    rows = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    if not len(rows):
        return frame, 0
    names = [f["name"] for f in definitions["features"]]
    missing = [n for n in names if n not in rows]
    if missing:
        raise ValueError(f"{path}: the feedback rows lack the model inputs {missing}: they were scored by a model "
                         "with other inputs; export them again with `mining retrain`")
    add = rows[names].copy()
    for f in definitions["features"]:
        if f["kind"] == "numeric":
            add[f["name"]] = pd.to_numeric(add[f["name"]], errors="coerce")
    add["target"] = rows["target"].astype(int).to_numpy()
    add["split"] = "train"
    if id_column:
        add[id_column] = rows["record_id"].astype(str).to_numpy()
    return pd.concat([frame, add], ignore_index=True), len(add)
