"""The serving bundle: model pipeline (feature preprocessing included; for a classifier, what
evaluate decided to ship: the candidate through its calibration, or the fairness-mitigated
model) + input schema + threshold + the governance approval it is served under.

The same bundle shape serves a classifier (a score and a flag) and a segmenter (a segment). Only a
model that passed the evaluation gates and that governance approved gets a bundle, and the API
refuses a bundle whose approval is missing, failed or names another model version. The bundle is
built beside the live one and swapped in atomically: a refused or killed deploy leaves the bundle
being served as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Callable

import joblib
import numpy as np
import pandas as pd

from mining import atomic
from mining.catalog import Catalog, member, report
from mining.charter import CLASSIFICATION, SEGMENTATION, task_of
from mining.deploy.compiled import TOLERANCE, NotCompilable, compile_model, max_difference
from mining.evaluate.results import load_calibration, shipped_model
from mining.gates import failed
from mining.reviews import ReviewRefused, require_sign_off
from mining.lineage import content_hash
from mining.reports import read_json, write_json
from mining.train.candidates import for_serving


EXAMPLE_ROWS = 5


class Tampered(RuntimeError):
    """A bundle file differs from what deploy recorded: it is refused, never unpickled."""


class NotApproved(RuntimeError):
    """The model has not passed its gates or governance: it is neither bundled nor served."""


def approval_for(root: Path, version: str) -> dict:
    """The evaluation gates and the governance approval of model `version`, or NotApproved naming
    what is missing."""
    cat = Catalog(root)
    kept = f"not deployed; {cat.relative(cat['serving'])} stays as it was"
    gates = read_json(cat["model_card_json"])["gates"]
    broken = failed(gates)
    if broken:
        raise NotApproved(f"model {version} failed its evaluation gates {broken} (see {report('evaluate')}): {kept}")
    if not cat["approval"].exists():
        raise NotApproved(f"model {version} has no governance approval ({cat.relative(cat['approval'])}): run the "
                          f"govern stage first; {kept}")
    approval = read_json(cat["approval"])
    check_approval(approval, version, str(cat.relative(cat["approval"])))
    board = board_sign_off(root, version, content_hash(cat["model_card_json"]), approval.get("reviewers") or [])
    return {**approval, "evaluation_gates": gates, "review_board": board}


def board_sign_off(root: Path, version: str, card_sha256: str, reviewers: list[str]) -> dict:
    """The review board's sign-off of `version` as described by the card with `card_sha256`:
    required (NotApproved without it) when the charter marks the use case high-risk."""
    cat = Catalog(root)
    high_risk = bool(read_json(cat["charter"])["high_risk"])
    try:
        return require_sign_off(cat["reviews"], version, card_sha256, reviewers, high_risk) | {"high_risk": high_risk}
    except ReviewRefused as exc:
        raise NotApproved(f"{exc}; not deployed") from exc


def check_approval(approval: dict | None, version: str, where: str) -> None:
    """Refuse unless `approval` passed and names `version` (what the API checks before serving)."""
    if approval is None:
        raise NotApproved(f"{where}: no governance approval: model {version} is not served")
    if approval.get("model_version") != version:
        raise NotApproved(f"{where}: the approval is for model {approval.get('model_version')}, not {version}: "
                          "not served")
    if not approval.get("automatic_checks_passed"):
        raise NotApproved(f"{where}: governance blocked model {version} ({approval.get('status')}; failed: "
                          f"{approval.get('failed_gates') or approval.get('open_findings')}; see {report('govern')}): "
                          "not served")


def input_schema(definitions: dict, train: pd.DataFrame | None = None,
                 previous: dict[str, dict] | None = None) -> dict[str, dict]:
    """Per input: type, whether null is accepted (it was seen missing in training), lower bound, and,
    from the training rows, the range of numbers and the categories seen (the API notes or refuses
    anything else, by `deploy.unseen_categories`). An input the `previous` (live) bundle did not
    take is `added_after_v1`: optional in `/v1` requests, imputed when left out."""
    schema = {}
    for f in definitions["features"]:
        spec = {"type": "number" if f["kind"] == "numeric" else "string", "nullable": f["missing_share"] > 0,
                "missing_share": f["missing_share"], "n_unique": f.get("n_unique"), "description": f["description"]}
        if f["kind"] == "numeric" and f.get("min") is not None and f["min"] >= 0:
            spec["minimum"] = 0
        if train is not None and f["name"] in train:
            seen = train[f["name"]].dropna()
            if f["kind"] == "numeric" and len(seen):
                spec["range"] = [float(seen.min()), float(seen.max())]
            elif f["kind"] != "numeric":
                spec["categories"] = sorted(map(str, seen.unique()))
        if previous is not None and (f["name"] not in previous or previous[f["name"]].get("added_after_v1")):
            spec["added_after_v1"] = True
        schema[f["name"]] = spec
    return schema


def frame_of(records: list[dict], inputs: dict[str, dict]) -> pd.DataFrame:
    """Records as the pipeline was trained on them: one column per input, numbers as floats."""
    return pd.DataFrame(records, columns=list(inputs)).astype(
        {c: float for c, s in inputs.items() if s["type"] == "number"})


def records_of(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready request records (NaN -> null)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def verify_scorer(model, inputs: dict[str, dict], rows: pd.DataFrame) -> dict:
    """Whether the compiled form of `model` gives the pipeline's scores on `rows` (to 1e-6): the API
    serves the compiled form only when it does."""
    try:
        compiled = compile_model(model)
    except NotCompilable as e:
        return {"kind": "pipeline", "reason": f"not compilable: {e}"}
    records = records_of(rows[list(inputs)])
    gap = max_difference(compiled, model, records, frame_of(records, inputs))
    if gap > TOLERANCE:
        return {"kind": "pipeline", "reason": f"compiled scores differ by up to {gap:.2e}", "rows": len(rows)}
    return {"kind": "compiled", "max_difference": gap, "rows": len(rows)}


def lineage_of(root: Path, params: dict, meta: dict) -> dict:
    """What traces a model version back, carried in its bundle (and so into the registry): code,
    data, features and params hashes, the sources read, the evaluation's headline metrics."""
    cat = Catalog(root)
    card = read_json(cat["model_card_json"])
    sources = read_json(cat["ingest_lineage"])["sources"]
    return {"git_commit": meta["code"].get("commit"), "git_dirty": bool(meta["code"].get("dirty")),
            "data_sha256": content_hash(cat["interim"]), "features_sha256": meta["features_sha256"],
            "params_sha256": hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest(),
            "sources": [{"uri": s.get("uri"), "sha256": s.get("sha256")} for s in sources],
            "metrics": {k: float(v) for k, v in card["metrics"].items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)}}


def write_bundle(root: Path, definitions: dict, meta: dict, train: pd.DataFrame, check: pd.DataFrame,
                 accept: Callable[[Path], None] | None = None, lineage: dict | None = None) -> Path:
    """Copy what serving needs (the trained model, the evaluated threshold, the approval, the input
    schema seen in `train`, a few `check` rows as the input example, the `lineage`) into one folder
    that the API loads with nothing else; only for an approved model (NotApproved otherwise). The
    compiled scorer is checked on the `check` rows; `accept(staging)` may refuse the staged bundle
    (the /v1 contract) before it goes live."""
    cat = Catalog(root)
    version, task = meta["model_sha256"][:12], task_of(meta)
    approval = approval_for(root, version)
    out = cat["serving"]
    staging = atomic.staging_dir(out)
    try:
        candidate = joblib.load(cat["model"])
        private = read_json(cat["privacy"]) if task == CLASSIFICATION and cat["privacy"].exists() else {}
        if private.get("ships"):  # govern chose the differentially private model (its record and file)
            model, threshold = for_serving(joblib.load(cat["private_model"])), private["threshold"]
            shipped = {"ships": "private", "epsilon": private["epsilon"], "why": private["why"]}
        elif task == CLASSIFICATION:
            threshold, model = read_json(cat["threshold"])["threshold"], shipped_model(root, candidate, for_serving)
            shipped = {k: v for k, v in load_calibration(root).items() if k != "params"}
        else:
            threshold, model, shipped = None, for_serving(candidate), None
        live = out / member("serving_info")
        inputs = input_schema(definitions, train, read_json(live)["inputs"] if live.exists() else None)
        scorer = verify_scorer(model, inputs, check) if task == CLASSIFICATION else {
            "kind": "pipeline", "reason": "segmenters are served by their pipeline"}
        pack(staging, model, {
            "task": task, "model_version": version, "model_type": meta["model"],
            "threshold": threshold, "id_column": definitions["roles"]["id"],
            "inputs": inputs, "scorer": scorer, "shipped": shipped,
            "model_card_sha256": content_hash(cat["model_card_json"]), "lineage": lineage or {},
        }, approval)
        write_json(staging / member("serving_example"), records_of(check[list(inputs)].head(EXAMPLE_ROWS)))
        if accept is not None:
            accept(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return atomic.publish_dir(staging, out)


def pack(folder: Path, model, info: dict, approval: dict) -> None:
    """A bundle's files: the model, its description with the model file's sha256, the approval."""
    with atomic.writing(folder / member("serving_model")) as tmp:
        joblib.dump(model, tmp)
    files = {member("serving_model"): content_hash(folder / member("serving_model"))}
    write_json(folder / member("serving_info"), {**info, "files": files})
    write_json(folder / member("serving_approval"), approval)


def load_model(folder: Path, info: dict):
    """The bundle's model, unpickled only once its file matches the sha256 deploy recorded."""
    name = member("serving_model")
    recorded, actual = (info.get("files") or {}).get(name), content_hash(folder / name)
    if recorded != actual:
        raise Tampered(f"{folder / name}: sha256 {actual[:12]} differs from the bundle's record "
                       f"({(recorded or 'none')[:12]}): the file changed after deploy; refusing to load it")
    return joblib.load(folder / name)


def model_output(model, task: str, X) -> np.ndarray:
    """What the served model answers for rows `X`: a segment per row, or the positive-class score."""
    return model.predict(X).astype(int) if task == SEGMENTATION else model.predict_proba(X)[:, 1]


def load_bundle(root: Path) -> tuple[object, dict]:
    """The serving model (its file checked) and its bundle description, as the API loads them."""
    cat = Catalog(root)
    info = read_json(cat["serving_info"])
    return load_model(cat["serving"], info), info


def write_latency(root: Path, latency: dict) -> None:
    """The measured latency, next to the bundle."""
    write_json(Catalog(root)["latency"], latency)
