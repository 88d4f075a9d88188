"""Experiment tracking in MLflow: one parent run per search, a nested run per trial, the final fit.

The store is a local SQLite file by default (the catalog's `mlflow_db`, artefacts beside it); set
`MLFLOW_TRACKING_URI` (or `train.tracking_uri`) to log to a tracking server instead. MLflow and
alembic log at INFO while they create a store: kept to errors, so reports carry no log lines.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import optuna
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from mining.catalog import Catalog
from mining.secrets import redact, redact_text

for _name in ("mlflow", "alembic"):
    logging.getLogger(_name).setLevel(logging.ERROR)
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # a server's run links would fill reports


def tracking_uri(configured: str | None, root: Path) -> str:
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Catalog(root)['mlflow_db']}"


def _params(d: dict, prefix: str = "") -> list[Param]:
    d = redact(d)
    return [Param(f"{prefix}{k}", json.dumps(v, default=str)[:6000] if isinstance(v, (dict, list)) else str(v))
            for k, v in d.items()]


class Tracker:
    """Logs a search to MLflow; `on_trial` is the Optuna callback."""

    def __init__(self, uri: str, experiment: str, root: Path, tags: dict[str, str]):
        Catalog(root)["mlflow"].mkdir(exist_ok=True)
        self.client = MlflowClient(uri)
        exp = self.client.get_experiment_by_name(experiment)
        self.experiment_id = exp.experiment_id if exp else self.client.create_experiment(
            experiment, artifact_location=Catalog(root)["mlflow_artifacts"].as_uri() if uri.startswith("sqlite") else None)
        self.tags = {k: redact_text(str(v)) for k, v in tags.items()}
        self.parent = None

    def start(self, run_name: str, params: dict) -> str:
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=self.tags)
        self.client.log_batch(run.info.run_id, params=_params(params))
        self.parent = run.info.run_id
        return self.parent

    def on_trial(self, candidate: str, trial: optuna.trial.FrozenTrial) -> None:
        tags = {**self.tags, "mlflow.parentRunId": self.parent, "candidate": candidate, "state": trial.state.name}
        run = self.client.create_run(self.experiment_id, run_name=f"{candidate}-trial-{trial.number}", tags=tags)
        now = int(time.time() * 1000)
        metrics = []
        if trial.value is not None:
            metrics.append(Metric("cv_score", float(trial.value), now, 0))
        for k in ("cv_std", "cv_pr_auc", "fit_s"):
            if k in trial.user_attrs:
                metrics.append(Metric(k, float(trial.user_attrs[k]), now, 0))
        metrics += [Metric("fold_score", float(v), now, int(step)) for step, v in trial.intermediate_values.items()]
        params = _params(trial.user_attrs.get("settings") or trial.params)
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params,
                              tags=[RunTag("trial_number", str(trial.number))])
        self.client.set_terminated(run.info.run_id, "FINISHED" if trial.state.name == "COMPLETE" else "KILLED")

    def finish(self, metrics: dict[str, float], artefacts: list[Path]) -> None:
        now = int(time.time() * 1000)
        self.client.log_batch(self.parent, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()
                                                    if v is not None])
        for path in artefacts:
            self.client.log_artifact(self.parent, str(path))
        self.client.set_terminated(self.parent, "FINISHED")

    def fail(self) -> None:
        if self.parent:
            self.client.set_terminated(self.parent, "FAILED")
