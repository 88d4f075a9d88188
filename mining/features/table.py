"""The modelling table: entity attributes + history features + target + split, and its definitions."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pandas.api import types as ptypes

from mining.charter import CLASSIFICATION, task_of
from mining.features.history import describe, history_of
from mining.features.interactions import resolve
from mining.features.split import assign_split
from mining.params import Params

TARGET, SPLIT = "target", "split"


@dataclass
class FeatureTable:
    frame: pd.DataFrame  # id (if any), model inputs, sensitive columns, time, target, split
    definitions: dict  # features (name, kind, encoding, source, description), roles, imputation
    online: dict | None = None  # rows written to the online store, as of when, where (set by the store)
    published: str | None = None  # the table's dataset at compute.storage_url, partitioned by split (set by the store)


def encode_target(values: pd.Series, positive_class) -> pd.Series:
    """1 where the label equals the positive class (compared as text, so 1 == '1' == 1.0)."""
    pos = str(positive_class).strip()
    pos_number = pd.to_numeric(pos, errors="coerce")
    if (ptypes.is_numeric_dtype(values) and not ptypes.is_bool_dtype(values) and pd.notna(pos_number)
            and values.notna().all()):
        return (values == pos_number).astype(int)  # numbers compare as numbers, without a text copy
    text = values.astype(str).str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().all() and pd.notna(pos_number):
        return (numeric == float(pos)).astype(int)
    if not (text == pos).any():
        raise ValueError(f"positive_class {positive_class!r} never occurs in the target "
                         f"(values seen: {sorted(text.unique())[:10]}); check params/data.yaml")
    return (text == pos).astype(int)


def build_table(params: Params, charter: dict, entities: pd.DataFrame, events) -> FeatureTable:
    """`events`: a DuckDB relation, a polars frame, a pandas table, one held on a Dask cluster (`ClusterEvents`), or None."""
    data, fp = params["data"], params["features"]
    id_col, time_col = data.get("id_column"), data.get("time_column")
    sensitive = list(data.get("sensitive_features") or [])
    frame = entities.reset_index(drop=True).copy()
    sources = {c: "entities" for c in frame.columns}
    descriptions: dict[str, str] = {}

    ev = data["events"]
    if events is not None and id_col:
        hist = history_of(events, frame[id_col], id_col=ev["id_column"], time_col=ev["time_column"],
                          cutoff=pd.Timestamp(ev["cutoff"]), windows_days=fp["windows_days"],
                          amount_col=ev.get("amount_column"), category_col=ev.get("category_column"))
        cats = [c.removeprefix("share_") for c in hist.columns if c.startswith("share_")]
        descriptions = describe(fp["windows_days"], ev.get("amount_column"), cats)
        frame = pd.concat([frame, hist], axis=1)
        sources.update({c: "events" for c in hist.columns})

    y = None
    if task_of(charter) == CLASSIFICATION:
        y = encode_target(frame[data["target"]], data["positive_class"])
    elif data.get("target") in frame and frame[data["target"]].notna().all():
        try:  # segmentation: a label, when there is one, only describes the segments
            y = encode_target(frame[data["target"]], data["positive_class"])
        except ValueError:
            y = None
    stratify = y if task_of(charter) == CLASSIFICATION else None
    split = assign_split(frame, stratify, fraction=float(data["holdout_fraction"]), seed=int(params["project"]["seed"]),
                         split_column=data.get("split_column"), time_column=time_col, id_column=id_col)

    roles = {"id": id_col, "time": time_col, "target": data["target"], "split": data.get("split_column"),
             "sensitive": sensitive}
    reserved = {c for c in (id_col, time_col, data["target"], data.get("split_column")) if c}
    excluded: dict[str, str] = {}
    feats = []
    for col in frame.columns:
        if col in reserved:
            continue
        if col in sensitive and not fp.get("use_sensitive", False):
            excluded[col] = "sensitive attribute: kept for the bias audit, not a model input"
            continue
        if col in (fp.get("exclude") or []):
            excluded[col] = "excluded in params/features.yaml"
            continue
        s = frame[col]
        if ptypes.is_datetime64_any_dtype(s):
            excluded[col] = "timestamp: not a model input (derive durations instead)"
            continue
        if ptypes.is_bool_dtype(s) or str(s.dtype) == "boolean":
            frame[col] = s.astype(float)
            s = frame[col]
        nunique = int(s.nunique(dropna=True))
        if nunique <= 1:
            excluded[col] = "constant"
            continue
        if ptypes.is_numeric_dtype(s):
            frame[col] = s.astype(float)
            feats.append({"name": col, "kind": "numeric", "encoding": "none"})
        else:
            enc = "onehot" if nunique <= int(fp["onehot_max_levels"]) else "target"
            feats.append({"name": col, "kind": "categorical", "encoding": enc})
        feats[-1].update(source=sources.get(col, "entities"), n_unique=nunique,
                         missing_share=round(float(s.isna().mean()), 4),
                         description=descriptions.get(col, f"{col} as given by the source"))
        if feats[-1]["kind"] == "numeric":
            x = frame[col].dropna()
            feats[-1].update(min=float(x.min()) if len(x) else None, max=float(x.max()) if len(x) else None)

    inputs = {f["name"] for f in feats}
    interactions, not_built = resolve(fp.get("interactions") or {}, {f["name"] for f in feats if f["kind"] == "numeric"},
                                      set(frame.columns))
    excluded.update(not_built)
    imputation = {col: [g for g in groups if g in inputs]
                  for col, groups in (fp.get("domain_imputation") or {}).items() if col in inputs}
    keep = [c for c in [id_col, time_col] if c] + [f["name"] for f in feats] + [c for c in sensitive if c not in inputs]
    out = frame[list(dict.fromkeys(keep))].copy()
    if y is not None:
        out[TARGET] = y.to_numpy()
    out[SPLIT] = split.to_numpy()
    return FeatureTable(out, {"features": feats, "excluded": excluded, "roles": roles,
                              "imputation": imputation, "interactions": interactions, "cutoff": ev.get("cutoff") if events is not None else None})
