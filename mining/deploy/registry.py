"""The model registry on MLflow: every model version the pipeline built, its lineage, and which one serves.

One store for runs and models: the tracking store the model search logs to (`train.tracking_uri`,
else `$MLFLOW_TRACKING_URI`, else the project's SQLite file) holds a registered model per charter.
Each version is an MLflow pyfunc model over a bundle folder (the one deploy built, or for a model
that the gates or governance stopped, its trained pipeline marked blocked), with a signature from
the bundle's input schema, an input example, and its lineage as tags (git commit, data, features,
params and model card hashes, metrics, gates, the bundle's own sha256). The aliases `champion` and
`challenger` say which version serves and which is scored in shadow; a version's `history` tag
keeps its events (released, shadow, promoted, retired, rolled back, archived) with time and reason.
A version is fetched into `models/releases/<version>` and used only when its files hash to what was
registered.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version as installed
from pathlib import Path

import mlflow
import pandas as pd
import yaml
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from mining import atomic
from mining.catalog import Catalog, member
from mining.charter import SEGMENTATION
from mining.deploy.bundle import frame_of, load_model, model_output
from mining.gates import failed
from mining.lineage import content_hash
from mining.reports import read_json
from mining.secrets import redact_text
from mining.train.tracking import tracking_uri

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no progress bars in reports

CHAMPION, CHALLENGER = "champion", "challenger"
EXPERIMENT = "model-registry"
REQUIREMENTS = ("scikit-learn", "lightgbm", "xgboost", "catboost", "pandas", "numpy", "joblib", "mlflow")
TAG_LIMIT = 5000  # MLflow's longest model-version tag value
VERSION_CHARS = 12  # a model version is the first 12 hex characters of its model file's sha256


class RegistryError(RuntimeError):
    """A registry step that cannot be taken (the message names the version and why)."""


class BundleModel(mlflow.pyfunc.PythonModel):
    """A registered version as MLflow serves it: the bundle's model, loaded only when its file
    matches the bundle's recorded sha256, answering the score (or segment) per row."""

    def load_context(self, context) -> None:
        folder = Path(context.artifacts["bundle"])
        self.info = read_json(folder / member("serving_info"))
        self.model = load_model(folder, self.info)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:
        out = model_output(self.model, self.info["task"], model_input[list(self.info["inputs"])])
        return pd.Series(out, name="segment" if self.info["task"] == SEGMENTATION else "score")


@dataclass
class Registry:
    """The registered model of one project in one tracking store."""

    client: MlflowClient
    uri: str
    name: str
    root: Path

    def version_of(self, model_version: str) -> str | None:
        """The registry's number for model `model_version` (the bundle's 12-character hash), if registered."""
        found = self.client.search_model_versions(f"name='{self.name}' and tags.model_version='{model_version}'")
        return str(found[0].version) if found else None

    def resolve(self, ref: str) -> str:
        """A registry number from an alias (champion, challenger), a number or a model hash; RegistryError if none."""
        if ref.isdigit() and len(ref) < VERSION_CHARS:
            try:
                return str(self.client.get_model_version(self.name, ref).version)
            except MlflowException as exc:
                raise RegistryError(f"no version {ref} of {self.name!r} in the registry") from exc
        if ref in (CHAMPION, CHALLENGER):
            number = self.alias(ref)
            if number is None:
                raise RegistryError(f"no {ref} in the registry of {self.name!r} at {redact_text(self.uri)}")
            return number
        number = self.version_of(ref)
        if number is None:
            raise RegistryError(f"model {ref} is not registered in {self.name!r} (`mining models list` shows the versions)")
        return number

    def alias(self, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except MlflowException:
            return None

    def set_alias(self, alias: str, number: str | None) -> None:
        if number is None:
            if self.alias(alias) is not None:
                self.client.delete_registered_model_alias(self.name, alias)
        else:
            self.client.set_registered_model_alias(self.name, alias, number)

    def tags(self, number: str) -> dict[str, str]:
        return dict(self.client.get_model_version(self.name, number).tags)

    def tag(self, number: str, **tags: str) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(self.name, number, key, value)

    def history(self, number: str) -> list[dict]:
        return json.loads(self.tags(number).get("history", "[]"))

    def record(self, number: str, event: str, reason: str, **extra: str) -> dict:
        """Append an event to the version's history (the oldest events give way past MLflow's tag limit)."""
        tags = self.tags(number)
        entry = {"at": now(), "event": event, "version": tags["model_version"], "reason": reason, **extra}
        events = [*json.loads(tags.get("history", "[]")), entry]
        while len(json.dumps(events)) > TAG_LIMIT and len(events) > 1:
            events.pop(0)
        self.tag(number, history=json.dumps(events), status=event)
        return entry

    def numbers(self) -> list[str]:
        """Every registered version's number, oldest first."""
        found = self.client.search_model_versions(f"name='{self.name}'")
        return sorted((str(v.version) for v in found), key=int)

    def register(self, folder: Path, reason: str) -> str:
        """Register the bundle in `folder` once per model version (a rerun finds it); its registry number."""
        info = read_json(folder / member("serving_info"))
        found = self.version_of(info["model_version"])
        if found is not None:
            return found
        try:
            self.client.get_registered_model(self.name)
        except MlflowException:
            self.client.create_registered_model(self.name, description=f"model versions of the charter {self.name!r}")
        run = self.client.create_run(self._experiment(), run_name=f"register-{info['model_version']}",
                                     tags={"model_version": info["model_version"]})
        with tempfile.TemporaryDirectory() as tmp:
            bundle = shutil.copytree(folder, Path(tmp) / "bundle")  # the name the artefact is stored under
            mlflow.pyfunc.save_model(Path(tmp) / "model", python_model=BundleModel(), artifacts={"bundle": str(bundle)},
                                     signature=signature(info), input_example=input_example(folder, info),
                                     pip_requirements=requirements())
            self.client.log_artifacts(run.info.run_id, str(Path(tmp) / "model"), "model")
        self.client.log_dict(run.info.run_id, info.get("lineage") or {}, "provenance.json")
        self.client.set_terminated(run.info.run_id)
        mv = self.client.create_model_version(self.name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id,
                                              tags=lineage_tags(folder, info))
        self.record(str(mv.version), "registered", reason)
        return str(mv.version)

    def fetch(self, number: str) -> Path:
        """Version `number`'s bundle in `models/releases/<version>`, downloaded when it is not there,
        and returned only when its files hash to the registered sha256 (RegistryError otherwise)."""
        mv = self.client.get_model_version(self.name, number)
        tags = dict(mv.tags)
        dest = Catalog(self.root)["releases"] / tags["model_version"]
        if not dest.exists():
            staging = atomic.staging_dir(dest)
            mlflow.artifacts.download_artifacts(artifact_uri=f"{mv.source}/artifacts/bundle", dst_path=str(staging),
                                                tracking_uri=self.uri)
            for f in (staging / "bundle").iterdir():
                f.rename(staging / f.name)
            (staging / "bundle").rmdir()
            atomic.publish_dir(staging, dest)
        actual = content_hash(dest)
        if actual != tags["bundle_sha256"]:
            raise RegistryError(f"{Catalog(self.root).relative(dest)}: sha256 {actual[:12]} differs from the registry's "
                                f"{tags['bundle_sha256'][:12]} for version {number} ({tags['model_version']}): "
                                "the files changed after registration; refusing to serve them")
        return dest

    def keep_local(self, number: str, folder: Path) -> Path:
        """Copy a just-registered bundle to its release folder without a download round trip."""
        dest = Catalog(self.root)["releases"] / self.tags(number)["model_version"]
        if not dest.exists():
            staging = atomic.staging_dir(dest)
            shutil.copytree(folder, staging, dirs_exist_ok=True)
            atomic.publish_dir(staging, dest)
        return self.fetch(number)

    def table(self) -> pd.DataFrame:
        """One row per version, newest first: number, aliases, status, lineage and headline figures."""
        rows = []
        for number in reversed(self.numbers()):
            mv = self.client.get_model_version(self.name, number)
            t = mv.tags
            rows.append({"version": int(number), "model": t.get("model_version"), "aliases": ", ".join(mv.aliases),
                         "status": t.get("status"), "registered": datetime.fromtimestamp(
                             mv.creation_timestamp / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M"),
                         "type": t.get("model_type"), "gates": t.get("gates"), "governance": t.get("governance"),
                         "roc_auc": t.get("metric.roc_auc"), "git_commit": (t.get("git_commit") or "")[:10],
                         "data_sha256": (t.get("data_sha256") or "")[:12],
                         "card_sha256": (t.get("model_card_sha256") or "")[:12]})
        return pd.DataFrame(rows)

    def _experiment(self) -> str:
        exp = self.client.get_experiment_by_name(EXPERIMENT)
        if exp:
            return exp.experiment_id
        artefacts = Catalog(self.root)["mlflow_artifacts"].as_uri() if self.uri.startswith("sqlite") else None
        return self.client.create_experiment(EXPERIMENT, artifact_location=artefacts)


def now() -> str:
    """To the microsecond: events of different versions merge into one history in order."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def open_registry(root: Path) -> Registry:
    """The project's registry: the charter's name in the store `train.tracking_uri` names (as the search logs)."""
    train = root / "params" / "train.yaml"
    configured = (yaml.safe_load(train.read_text()) or {}).get("tracking_uri") if train.exists() else None
    uri = tracking_uri(configured, root)
    if uri.startswith("sqlite"):
        Catalog(root)["mlflow"].mkdir(parents=True, exist_ok=True)
    charter = Catalog(root)["charter"]
    name = read_json(charter)["name"] if charter.exists() else root.resolve().name
    return Registry(MlflowClient(uri, registry_uri=uri), uri, name, root)


def signature(info: dict) -> ModelSignature | None:
    """The inputs as the bundle's schema declares them (nullable ones optional) and the output."""
    if not info["inputs"]:
        return None
    inputs = Schema([ColSpec("double" if spec["type"] == "number" else "string", name, required=not spec.get("nullable"))
                     for name, spec in info["inputs"].items()])
    out = ColSpec("long", "segment") if info["task"] == SEGMENTATION else ColSpec("double", "score")
    return ModelSignature(inputs=inputs, outputs=Schema([out]))


def input_example(folder: Path, info: dict) -> pd.DataFrame | None:
    """The bundle's example records (deploy keeps a few holdout rows), as the signature types them."""
    path = folder / member("serving_example")
    if not path.exists():
        return None
    return frame_of(read_json(path), info["inputs"])


def requirements() -> list[str]:
    """The libraries a registered model loads with, pinned to what built it (no inference subprocess)."""
    pins = []
    for name in REQUIREMENTS:
        try:
            pins.append(f"{name}=={installed(name)}")
        except PackageNotFoundError:
            continue
    return pins


def lineage_tags(folder: Path, info: dict) -> dict[str, str]:
    """What traces a version back, as MLflow tags: hashes of code, data, features, params, card and
    bundle, the evaluation's headline metrics, the gates and governance it passed (or not)."""
    lin = info.get("lineage") or {}
    approval = read_json(folder / member("serving_approval"))
    gates = approval.get("evaluation_gates") or []
    broken = failed(gates)
    tags = {"model_version": info["model_version"], "model_type": str(info.get("model_type")), "task": info["task"],
            "bundle_sha256": content_hash(folder), "model_card_sha256": info.get("model_card_sha256") or "",
            "gates": "failed: " + "; ".join(broken) if broken else f"{len(gates)} passed",
            "governance": "approved" if approval.get("automatic_checks_passed")
            else str(approval.get("status") or "blocked")}
    for key in ("git_commit", "git_dirty", "data_sha256", "features_sha256", "params_sha256"):
        if key in lin:
            tags[key] = str(lin[key])
    tags |= {f"metric.{k}": f"{v:.6g}" for k, v in (lin.get("metrics") or {}).items()}
    return {k: redact_text(v)[:TAG_LIMIT] for k, v in tags.items()}
