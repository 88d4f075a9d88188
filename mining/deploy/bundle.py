"""The serving bundle: model pipeline (feature preprocessing included) + input schema + threshold.

The same bundle shape serves a classifier (a score and a flag) and a segmenter (a segment).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib

from mining.catalog import Catalog
from mining.charter import CLASSIFICATION, task_of
from mining.reports import read_json, write_json
from mining.train.candidates import for_serving


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


def write_bundle(root: Path, definitions: dict, meta: dict) -> Path:
    """Copy what serving needs (the trained model, the evaluated threshold) into one folder that the
    API loads with nothing else."""
    cat = Catalog(root)
    out = cat["serving"]
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    joblib.dump(for_serving(joblib.load(cat["model"])), cat["serving_model"])
    task = task_of(meta)
    threshold = read_json(cat["threshold"])["threshold"] if task == CLASSIFICATION else None
    write_json(cat["serving_info"], {
        "task": task, "model_version": meta["model_sha256"][:12], "model_type": meta["model"],
        "threshold": threshold, "id_column": definitions["roles"]["id"],
        "inputs": input_schema(definitions),
    })
    return out


def load_bundle(root: Path) -> tuple[object, dict]:
    """The serving model and its bundle description, as the API loads them."""
    cat = Catalog(root)
    return joblib.load(cat["serving_model"]), read_json(cat["serving_info"])


def write_contract(root: Path, openapi: dict, latency: dict) -> None:
    """The API's OpenAPI document and the measured latency, next to the bundle."""
    cat = Catalog(root)
    write_json(cat["openapi"], openapi)
    write_json(cat["latency"], latency)
