"""The artefact catalog: every file or folder a stage writes or reads, named once.

Stages, notebooks, the runner, the API and the tests take paths from here; `dvc.yaml`'s outs are
kept in step by `tests/test_catalog.py`. Like Kedro's catalog, an entry has a name, a place and
an owner (the stage whose output it is); unlike Kedro's, it holds no loaders: the owning stage's
public readers load it. Paths are project-relative and POSIX; `Catalog(root)` makes them absolute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mining.stages import STAGES, all_notebooks


@dataclass(frozen=True)
class Artefact:
    path: str  # project-relative
    stage: str  # the stage that writes it
    what: str
    out: bool = False  # a DVC out of `stage` in dvc.yaml (else it lives inside one, or outside DVC)
    persist: bool = False  # kept between runs (dvc.yaml `persist: true`)
    cache: bool = True  # stored in the DVC cache (dvc.yaml `cache: false` when not)
    dvc: bool = True  # False: a side output DVC does not track (a tracking store)

    def name_in(self, folder: Artefact) -> str:
        """This artefact's path inside `folder` (a bundle's member, read from wherever the bundle is)."""
        return str(PurePosixPath(self.path).relative_to(folder.path))


def _entries() -> dict[str, Artefact]:
    A = Artefact
    return {
        # 01 scope
        "charter": A("data/scope/charter.json", "scope", "task, KPI thresholds, data access, output format", out=True),
        # 02 ingest
        "interim": A("data/interim", "ingest", "validated tables, quarantine, schema, profile, lineage", out=True),
        "access_log": A("data/access/reads.jsonl", "ingest", "every read of a protected table: who, role, when, "
                        "granted or refused (`mining.ingest.roles`)", dvc=False),
        "entities": A("data/interim/entities", "ingest", "validated entity rows (Parquet, hive-partitioned by date)"),
        "events": A("data/interim/events", "ingest", "validated event rows (Parquet, hive-partitioned by date)"),
        "quarantine": A("data/interim/quarantine.parquet", "ingest", "every rejected row with its reasons"),
        "ingest_schema": A("data/interim/schema.json", "ingest", "the schema the rows were checked against"),
        "profile": A("data/interim/profile.csv", "ingest", "missing share, distinct count, range, outliers"),
        "ingest_lineage": A("data/interim/lineage.json", "ingest", "sources, hashes, counts, schema versions"),
        "schemas": A("data/schemas", "ingest", "versioned schema contracts", out=True, persist=True, cache=False),
        # 03 features
        "features": A("data/features", "features", "the modelling table and its definitions", out=True),
        "feature_table": A("data/features/features.parquet", "features", "inputs, target, split per entity"),
        "feature_definitions": A("data/features/definitions.json", "features", "inputs, roles, exclusions"),
        "drift_baseline": A("data/features/drift_baseline.json", "features", "training distributions for drift"),
        "online_features": A("data/features/online.sqlite", "features", "latest feature row per id (online store "
                             "the API reads ids from) when features.online_url is null"),
        # 04 train
        "candidate": A("models/candidate", "train", "the chosen model and its search record", out=True),
        "model": A("models/candidate/model.joblib", "train", "the fitted pipeline"),
        "model_metadata": A("models/candidate/metadata.json", "train", "task, params, hashes, code version"),
        "leaderboard": A("models/candidate/leaderboard.csv", "train", "every candidate's scores"),
        "trials": A("models/candidate/trials.csv", "train", "every search trial (DVC plot)"),
        "oof_scores": A("models/candidate/oof.parquet", "train", "out-of-fold scores of the chosen model"),
        "segment_profiles": A("models/candidate/profiles.csv", "train", "segment profiles and names"),
        "search": A("models/search", "train", "Optuna studies: a killed search resumes", out=True, persist=True,
                    cache=False),
        "optuna_db": A("models/search/optuna.db", "train", "the Optuna study store"),
        "segmentation_fits": A("models/search/segmentation_fits.csv", "train", "every segmentation fit"),
        "mlflow": A("mlruns", "train", "MLflow tracking store (default, SQLite)", dvc=False),
        "mlflow_db": A("mlruns/mlflow.db", "train", "MLflow runs", dvc=False),
        "mlflow_artifacts": A("mlruns/artifacts", "train", "MLflow run artefacts", dvc=False),
        # 05 evaluate
        "evaluation": A("models/evaluation", "evaluate", "holdout predictions, threshold, importance", out=True),
        "holdout_predictions": A("models/evaluation/holdout_predictions.parquet", "evaluate",
                                 "holdout scores with ids and sensitive columns"),
        "threshold": A("models/evaluation/threshold.json", "evaluate", "the operating threshold"),
        "importance": A("models/evaluation/importance.csv", "evaluate", "global feature importance"),
        "calibration": A("models/evaluation/calibration.json", "evaluate", "the score calibration deploy applies"),
        "mitigated_model": A("models/evaluation/mitigated.joblib", "evaluate",
                             "the fairness-mitigated model, when evaluate chose to ship it"),
        "model_card_json": A("models/evaluation/model_card.json", "evaluate", "the model card as data"),
        "model_card": A("reports/model_card.html", "evaluate", "the model card for reviewers", out=True),
        "model_card_md": A("reports/model_card.md", "evaluate", "the model card as Markdown (Hugging Face style)",
                           out=True),
        # 06 deploy
        "serving": A("models/serving", "deploy", "the serving bundle the API loads", out=True),
        "serving_model": A("models/serving/model.joblib", "deploy", "the pipeline tuned for serving"),
        "serving_info": A("models/serving/bundle.json", "deploy", "task, version, threshold, input schema"),
        "serving_approval": A("models/serving/approval.json", "deploy", "the governance approval it is served under"),
        "serving_example": A("models/serving/example.json", "deploy", "a few holdout records: the registry's input example"),
        "explanations": A("reports/explanations", "deploy", "one page per explained decision (`mining explain ID`)",
                          dvc=False),
        "openapi": A("models/serving/openapi.json", "deploy", "the API contract"),
        "api_contract": A("models/contract/openapi_v1.json", "deploy", "the /v1 contract as last deployed (kept "
                          "between runs): a later deploy may widen it, never narrow it", out=True, persist=True),
        "latency": A("models/serving/latency.json", "deploy", "single-row latency percentiles"),
        "api_keys": A("data/keys/api_keys.sqlite", "deploy", "hashed API keys and their scopes (`mining keys`)",
                      dvc=False),
        "serve_benchmark": A("benchmarks/results/serve.json", "deploy", "the last `benchmarks/serve.py` figures "
                             "(committed; the deploy report shows them)", dvc=False),
        "pseudonym_key": A("data/keys/pseudonym.key", "deploy", "the secret that pseudonymises ids in the inference "
                           "log, made once when $MINING_PSEUDONYM_KEY is not set", dvc=False),
        "inference_log": A("data/serving/inference_log.sqlite", "deploy", "every scored record (table inference_log, "
                           "SQLite WAL) when deploy.log_url is null", dvc=False),
        # 07 monitor
        "monitoring": A("data/monitoring", "monitor", "drift, quality and decay findings", out=True),
        "replay_log": A("data/monitoring/replay.sqlite", "monitor", "the stage's replayed traffic (inference log and "
                        "feedback tables) when monitor.source is replay"),
        "windows": A("data/monitoring/windows.csv", "monitor", "every monitoring figure per window"),
        "window_drift": A("data/monitoring/window_drift.csv", "monitor", "each input's drift test per window"),
        "feedback": A("data/feedback", "feedback", "labelled outcomes joined to the inputs scored, that "
                      "`mining retrain` adds to the training rows", out=True, persist=True),
        "feedback_rows": A("data/feedback/labelled.parquet", "feedback", "one row per labelled record: inputs, "
                           "target, when it was scored"),
        "releases": A("models/releases", "monitor", "released versions' bundles as fetched from the MLflow model "
                      "registry and checked against their registered sha256 (champion, challenger, kept retired ones)",
                      dvc=False),
        "archive": A("data/archive", "monitor", "archived model versions and rotated inference logs, with "
                     "actions.jsonl: what was archived or deleted and when", dvc=False),
        "feature_drift": A("data/monitoring/feature_drift.csv", "monitor", "PSI / KS per input"),
        "findings": A("data/monitoring/findings.json", "monitor", "window, prediction drift, retrain decision"),
        # 08 govern
        "governance": A("data/governance", "govern", "bias audit, DPIA record, approval", out=True),
        "bias_audit": A("data/governance/bias_audit.csv", "govern", "error rates per sensitive group"),
        "dpia": A("data/governance/dpia.json", "govern", "the data-protection record"),
        "privacy": A("data/governance/privacy.json", "govern", "privacy-utility curve, budget spent, the private model's use"),
        "private_model": A("data/governance/private_model.joblib", "govern",
                           "the differentially private model, when govern ships it"),
        "approval": A("data/governance/approval.json", "govern", "review state and gates"),
        "reviews": A("governance/reviews.sqlite", "govern", "review-board decisions (`mining approve`): append-only, "
                     "outside the pipeline's outputs so that no rerun wipes them", dvc=False),
        # 09 enterprise
        "bi": A("data/bi", "enterprise", "tables for BI tools (Parquet + CSV)", out=True),
        "index": A("reports/index.html", "enterprise", "the reviewers' start page", out=True),
        "dashboard": A("reports/dashboard.html", "enterprise", "the executive dashboard: KPIs across every run "
                       "loaded into the warehouse", out=True),
        "guide": A("reports/guide.html", "enterprise", "how to read these scores: one page for business users, "
                   "in the run's own figures", out=True),
    }


ARTEFACTS: dict[str, Artefact] = _entries()
STRIPPED_DIR = "build/notebooks"  # output-free notebook copies: what each stage depends on
LOCKS_DIR = "build/locks"  # one lock per stage run (mining.locks)
METRICS_DIR = "metrics"
REPORTS_DIR = "reports"


def member(name: str) -> str:
    """An artefact's path inside the DVC out folder that holds it (`member("quarantine")` is
    "quarantine.parquet"): how a stage writes into its staging folder and the API reads a bundle."""
    inner = ARTEFACTS[name]
    for folder in ARTEFACTS.values():
        if folder is not inner and folder.out and PurePosixPath(inner.path).is_relative_to(folder.path):
            return inner.name_in(folder)
    raise KeyError(f"{name!r} is not inside a DVC out folder of the catalog")


def stripped(notebook: str) -> str:
    return f"{STRIPPED_DIR}/{notebook}.ipynb"


def metrics(stage: str) -> str:
    return f"{METRICS_DIR}/{stage}.json"


def report(stage: str) -> str:
    return f"{REPORTS_DIR}/{STAGES[stage]}.html"


def executed(stage: str) -> str:
    return f"{REPORTS_DIR}/notebooks/{STAGES[stage]}.ipynb"


def stage_outs(stage: str) -> dict[str, Artefact]:
    """What dvc.yaml must list as `stage`'s outs (its report and executed notebook included)."""
    outs = {a.path: a for a in ARTEFACTS.values() if a.stage == stage and a.out}
    for path, what in ((report(stage), "the stage's HTML report"), (executed(stage), "the executed notebook")):
        outs[path] = Artefact(path, stage, what, out=True)
    return outs


def notebook_outs() -> list[str]:
    return [stripped(nb) for nb in all_notebooks()]


class Catalog:
    """The catalog bound to one project root: `Catalog(root)["charter"]` is an absolute path."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def __getitem__(self, name: str) -> Path:
        try:
            return self.root / ARTEFACTS[name].path
        except KeyError:
            raise KeyError(f"no artefact {name!r} in the catalog (mining/catalog.py)") from None

    def metrics(self, stage: str) -> Path:
        return self.root / metrics(stage)

    def report(self, stage: str) -> Path:
        return self.root / report(stage)

    def executed(self, stage: str) -> Path:
        return self.root / executed(stage)

    def stripped(self, notebook: str) -> Path:
        return self.root / stripped(notebook)

    def lock(self, stage: str) -> Path:
        return self.root / LOCKS_DIR / f"{stage}.lock"

    def relative(self, path: Path | str) -> str:
        """A path or URL as a reviewer should read it: relative to the project when it is inside it."""
        text = str(path)
        for prefix in ("sqlite:///", "file://", ""):
            if text.startswith(prefix):
                rest = Path(text[len(prefix):])
                if rest.is_absolute() and rest.is_relative_to(self.root):
                    return prefix + rest.relative_to(self.root).as_posix()
        return text
