"""Every model the pipeline trains, into the MLflow model registry with its lineage.

A deployed model is registered as the bundle that serves it. A model the evaluation gates or
governance stopped has no bundle: its trained pipeline is registered as a bundle-shaped folder
whose approval records why it is blocked, so the registry still lists it, with its lineage, and
promotion refuses it. Registering moves no alias: until a release names a champion (`mining
models promote`, or the monitoring loop's `mining traffic` / `retrain`), the pipeline's latest bundle
serves, so a rerun on other data never leaves the API on a model of the old data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import joblib
import pandas as pd

from mining.catalog import Catalog, member
from mining.charter import task_of
from mining.deploy import releases
from mining.deploy.bundle import EXAMPLE_ROWS, input_schema, lineage_of, pack, records_of
from mining.deploy.registry import CHALLENGER, CHAMPION, open_registry
from mining.gates import failed
from mining.lineage import content_hash
from mining.reports import write_json
from mining.train.candidates import for_serving


def register_run(root: Path, params: dict, meta: dict, definitions: dict, train: pd.DataFrame,
                 approval: dict, gates: list[dict]) -> dict:
    """Register this run's model version; its registry number, alias (if any), status and why."""
    version = meta["model_sha256"][:12]
    serving = Catalog(root)["serving"]
    deployed = (serving / member("serving_info")).exists() and releases.version_of(serving) == version
    if not deployed:
        return register_blocked(root, params, meta, definitions, train, approval, gates)
    reg = open_registry(root)
    number = reg.register(serving, "built by the pipeline")
    aliases = [a for a in (CHAMPION, CHALLENGER) if reg.alias(a) == number]
    return {"version": version, "number": number, "aliases": aliases, "status": reg.tags(number)["status"]}


def register_blocked(root: Path, params: dict, meta: dict, definitions: dict, train: pd.DataFrame,
                     approval: dict, gates: list[dict]) -> dict:
    """Register a model that was not deployed, its approval saying why; it takes no alias."""
    cat = Catalog(root)
    version = meta["model_sha256"][:12]
    broken = failed(gates)
    why = f"failed gates: {'; '.join(broken)}" if broken else f"governance: {approval.get('status')}"
    reg = open_registry(root)
    number = reg.version_of(version)
    if number is None:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / version
            folder.mkdir()
            inputs = input_schema(definitions, train)
            pack(folder, for_serving(joblib.load(cat["model"])), {
                "task": task_of(meta), "model_version": version, "model_type": meta["model"], "threshold": None,
                "id_column": definitions["roles"]["id"], "inputs": inputs,
                "model_card_sha256": content_hash(cat["model_card_json"]),
                "lineage": lineage_of(root, params, meta)},
                {"model_version": version, "automatic_checks_passed": False, "status": "blocked",
                 "failed_gates": broken, "evaluation_gates": gates})
            write_json(folder / member("serving_example"), records_of(train[list(inputs)].head(EXAMPLE_ROWS)))
            number = reg.register(folder, f"trained, not deployed ({why})")
        reg.record(number, "blocked", why)
    return {"version": version, "number": number, "aliases": [], "status": "blocked"}
