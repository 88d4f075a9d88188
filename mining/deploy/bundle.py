"""The serving bundle: model pipeline (feature preprocessing included) + input schema + threshold.

The same bundle shape serves a classifier (a score and a flag) and a segmenter (a segment).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib

from mining.reports import read_json, write_json
from mining.train.candidates import for_serving

BUNDLE_DIR = "models/serving"


def input_schema(definitions: dict) -> dict[str, dict]:
    """Per input: type, whether null is accepted (it was seen missing in training), lower bound."""
    schema = {}
    for f in definitions["features"]:
        spec = {"type": "number" if f["kind"] == "numeric" else "string",
                "nullable": f["missing_share"] > 0, "description": f["description"]}
        if f["kind"] == "numeric" and f.get("min") is not None and f["min"] >= 0:
            spec["minimum"] = 0
        schema[f["name"]] = spec
    return schema


def write_bundle(root: Path, model_dir: Path, eval_dir: Path, definitions: dict, meta: dict) -> Path:
    """Copy what serving needs into one folder that the API loads with nothing else."""
    out = root / BUNDLE_DIR
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model = for_serving(joblib.load(model_dir / "model.joblib"))
    joblib.dump(model, out / "model.joblib")
    task = meta.get("task", "classification")
    threshold = read_json(eval_dir / "threshold.json")["threshold"] if task == "classification" else None
    write_json(out / "bundle.json", {
        "task": task, "model_version": meta["model_sha256"][:12], "model_type": meta["model"],
        "threshold": threshold, "id_column": definitions["roles"]["id"],
        "inputs": input_schema(definitions),
    })
    return out
