"""Stage 01: the charter every later stage reads and reports against."""

from __future__ import annotations

import pandas as pd

from mining.catalog import Catalog
from mining.charter import CLASSIFICATION, SEGMENTATION
from mining.data.sources import BUILTIN_DEMO, read_source
from mining.params import Params
from mining.reports import write_json


def label_availability(params: Params) -> dict:
    """How much of the source carries the target: decides supervised vs unsupervised."""
    data = params["data"]
    if data["source"] == BUILTIN_DEMO:
        return {"target_present": True, "labelled_share": 1.0, "rows": int(data["demo"]["n_customers"]),
                "note": "the demo generator labels every customer"}
    if not data.get("target"):
        return {"target_present": False, "labelled_share": 0.0, "rows": None, "note": "no target in params"}
    df = read_source(data["source"], params.root, data.get("delimiter", ","), data.get("encoding", "utf-8"),
                     data.get("query"))[0].frame
    if data["target"] not in df.columns:
        return {"target_present": False, "labelled_share": 0.0, "rows": len(df),
                "note": f"column {data['target']!r} not in {data['source']}"}
    y = df[data["target"]]
    counts = y.astype(str).where(y.notna()).value_counts(dropna=True)
    return {"target_present": True, "labelled_share": float(y.notna().mean()), "rows": len(df),
            "classes": {str(k): int(v) for k, v in counts.items()}}


def decide_task(requested: str, labels: dict, min_share: float) -> dict:
    """Supervised when enough rows carry the label, unsupervised otherwise (or as params force)."""
    if requested in (CLASSIFICATION, SEGMENTATION):
        return {"type": requested, "reason": f"set in params/project.yaml (task: {requested})"}
    if labels["target_present"] and labels["labelled_share"] >= min_share:
        return {"type": CLASSIFICATION,
                "reason": f"{labels['labelled_share']:.0%} of rows are labelled (>= {min_share:.0%}): supervised"}
    return {"type": SEGMENTATION,
            "reason": f"labels on {labels['labelled_share']:.0%} of rows (< {min_share:.0%}): unsupervised segmentation"}


def build_charter(params: Params) -> dict:
    project, data = params["project"], params["data"]
    labels = label_availability(params)
    task = decide_task(project["task"], labels, float(project["min_label_share"]))
    positive_rate = None
    if labels.get("classes"):
        total = sum(labels["classes"].values())
        positive_rate = labels["classes"].get(str(data["positive_class"]), 0) / total
    return {
        "name": project["name"], "problem": project["problem"], "decision_owner": project["decision_owner"],
        "task": {**task, "target": data["target"], "positive_class": data["positive_class"],
                 "observed_positive_rate": positive_rate},
        "labels": labels,
        "kpis": project["kpis"],
        "sensitive_features": list(data.get("sensitive_features") or []),
        "personal_data_allowed": list(project.get("personal_data_allowed") or []),
        "high_risk": bool(project["high_risk"]),
        "value_case": project["value_case"], "build_vs_buy": project["build_vs_buy"],
        "lineage": project["lineage"], "data_access": project["data_access"],
        "output": {"consumer": project["output"]["consumer"], "format": project["output"]["format"],
                   "columns": project["output"]["segment_columns" if task["type"] == SEGMENTATION else "columns"]},
        "source": data["source"],
    }


def kpi_table(charter: dict) -> pd.DataFrame:
    rows = [{"kpi": k, "threshold": v, "gated": v is not None} for k, v in charter["kpis"].items()]
    return pd.DataFrame(rows)


def label_table(charter: dict) -> pd.DataFrame:
    """Label availability, one row per fact (rows, labelled share, class counts)."""
    labels = charter["labels"]
    rows = [{"fact": k.replace("_", " "), "value": v} for k, v in labels.items() if k != "classes"]
    rows += [{"fact": f"rows of class {c}", "value": n} for c, n in (labels.get("classes") or {}).items()]
    return pd.DataFrame(rows).astype({"value": object})


def access_table(charter: dict) -> pd.DataFrame:
    """Each data source with its owner, legal basis and who approved access."""
    return pd.DataFrame(charter["data_access"])


def write_charter(params: Params) -> dict:
    """Build the charter and write it where every later stage reads it (`mining.charter.load_charter`)."""
    charter = build_charter(params)
    write_json(Catalog(params.root)["charter"], charter)
    return charter
