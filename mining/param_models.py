"""The schema of every `params/*.yaml` file (pydantic, strict): what each key is and may hold.

The values themselves live in `params/*.yaml` and only there (every key is required, so no default
is repeated in code); these models only say what is allowed. A typo'd key, a missing one or a
wrong type fails when the params are loaded, before a stage starts, naming file, key and the
expected type (`mining.params.load_params`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, model_validator

from mining.secrets import literal_password

Probability = Annotated[float, Field(ge=0, le=1)]
Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=0)]


def _iso(value: Any) -> Any:
    """YAML reads an unquoted 2026-01-01 as a date: keep dates as ISO text."""
    return value.isoformat() if isinstance(value, date) else value


IsoDate = Annotated[str, BeforeValidator(_iso)]


def _no_literal_password(url: str | None) -> str | None:
    """A password or token written into a URL in params would reach every artefact: refuse it."""
    if url is not None and literal_password(url):
        raise ValueError("a password or token is written into this URL: put it in an environment variable "
                         "and name that, e.g. postgresql+psycopg://user:${PGPASSWORD}@host/db")
    return url


Url = Annotated[str, AfterValidator(_no_literal_password)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


# project.yaml -------------------------------------------------------------------------------------
class Kpis(Strict):
    min_precision: Probability | None
    precision_tolerance: Probability
    min_roc_auc: Probability | None
    max_equalized_odds_difference: Probability | None
    max_demographic_parity_difference: Probability | None
    min_group_size: Count
    min_group_positives: Count
    latency_sla_ms: Positive | None


class BuildVsBuy(Strict):
    decision: Literal["build", "buy"]
    reason: str


class Lineage(Strict):
    regulatory_use: bool
    record: list[str]


class DataAccess(Strict):
    source: str
    owner: str
    basis: str
    approved_by: str


class Output(Strict):
    consumer: str
    format: str
    columns: list[str]
    segment_columns: list[str]


class Runner(Strict):
    cell_timeout_s: Annotated[int, Field(gt=0)]


class Project(Strict):
    name: str
    problem: str
    decision_owner: str
    seed: int
    task: Literal["auto", "classification", "segmentation"]
    min_label_share: Probability
    kpis: Kpis
    value_case: str
    build_vs_buy: BuildVsBuy
    personal_data_allowed: list[str]
    high_risk: bool
    lineage: Lineage
    data_access: list[DataAccess]
    output: Output
    runner: Runner


# data.yaml ----------------------------------------------------------------------------------------
class Events(Strict):
    source: Url | None
    id_column: str
    time_column: str
    amount_column: str | None
    category_column: str | None
    cutoff: IsoDate
    horizon_days: Annotated[int, Field(gt=0)]


class Demo(Strict):
    n_customers: Annotated[int, Field(gt=0)]
    events_per_month: Positive
    history_months: Annotated[int, Field(gt=0)]
    churn_rate: Annotated[float, Field(gt=0, lt=1)]


class Data(Strict):
    source: Url
    query: str | None
    delimiter: Annotated[str, Field(min_length=1, max_length=1)]
    encoding: str
    target: str | None
    positive_class: int | float | str | bool
    id_column: str | None
    time_column: str | None
    split_column: str | None
    sensitive_features: list[str]
    holdout_fraction: Annotated[float, Field(gt=0, lt=1)]
    schema_: dict[str, dict[str, Any]] | str | None = Field(alias="schema")
    events: Events
    demo: Demo

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


# ingest.yaml --------------------------------------------------------------------------------------
class Outliers(Strict):
    method: Literal["iqr", "mad"]
    k: Positive
    action: Literal["flag", "quarantine"]
    columns: list[str] | None


class Kafka(Strict):
    topic: str | None
    group: str
    max_records: Annotated[int, Field(gt=0)]


class Stream(Strict):
    inbox: str
    out: str
    max_files: Annotated[int, Field(gt=0)] | None
    kafka: Kafka


class Pseudonymise(Strict):
    columns: list[str]
    key_env: str


class Encryption(Strict):
    quarantine: bool
    tables: bool
    key_env: str


class Ingest(Strict):
    max_quarantine_share: Probability
    outliers: Outliers
    partition_by: Literal["day", "month", "year"]
    schema_policy: Literal["add", "warn", "fail"]
    stream: Stream
    pseudonymise: Pseudonymise
    encryption: Encryption


# features.yaml ------------------------------------------------------------------------------------
class Interaction(Strict):
    kind: Literal["ratio", "product", "difference"]
    a: str
    b: str


class Features(Strict):
    windows_days: list[Annotated[int, Field(gt=0)]]
    online_url: Url | None
    onehot_max_levels: Annotated[int, Field(gt=0)]
    use_sensitive: bool
    exclude: list[str]
    domain_imputation: dict[str, list[str]]
    interactions: dict[str, Interaction]
    drift_bins: Annotated[int, Field(ge=2)]


# train.yaml ---------------------------------------------------------------------------------------
class Range(Strict):
    low: int | float  # ints stay ints: an int range is searched over integers
    high: int | float
    log: bool = False  # a linear scale unless said
    type: Literal["int", "float"] | None = None  # None: int when both bounds are ints

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("a log scale needs low > 0")
        return self


class Choices(Strict):
    choices: list[Any] = Field(min_length=1)


def _space_kind(spec: Any) -> str:
    """Which kind of range a spec is, as read from YAML (a dict) or when dumped (a model)."""
    return "choices" if isinstance(spec, Choices) or (isinstance(spec, dict) and "choices" in spec) else "range"


SpaceSpec = Annotated[Annotated[Range, Tag("range")] | Annotated[Choices, Tag("choices")], Discriminator(_space_kind)]


class Candidate(Strict):
    enabled: bool
    defaults: dict[str, Any]
    space: dict[str, SpaceSpec]
    portfolio: list[dict[str, Any]] = []  # configurations tried before TPE (tunable keys only)

    @model_validator(mode="after")
    def _portfolio_in_space(self) -> "Candidate":
        for i, config in enumerate(self.portfolio):
            if extra := sorted(set(config) - set(self.space)):
                raise ValueError(f"portfolio[{i}]: {', '.join(extra)} not in the space (only tuned settings vary)")
        return self


CandidateName = Literal["logreg", "lightgbm", "xgboost", "histgb", "catboost", "mlp", "torch_mlp"]


class Ensemble(Strict):
    enabled: bool
    max_members: Annotated[int, Field(ge=2)]
    min_gain: float


class Segmentation(Strict):
    k_min: Annotated[int, Field(ge=2)]
    k_max: Annotated[int, Field(ge=2)]
    methods: list[Literal["kmeans", "gmm"]] = Field(min_length=1)
    sample: Annotated[int, Field(gt=1)]


class Pruning(Strict):
    enabled: bool
    budget_share: Annotated[float, Field(gt=0, lt=1)]
    tolerance: Annotated[float, Field(ge=0)]
    step: Annotated[float, Field(gt=0, lt=1)]
    shap_sample: Annotated[int, Field(gt=0)]


class AutomlReference(Strict):
    enabled: bool
    budget_s: Positive | None


class Validation(Strict):
    folds_below_rows: dict[Annotated[int, Field(gt=0)], Annotated[int, Field(ge=2)]] = Field(min_length=1)
    holdout_fraction: Annotated[float, Field(gt=0, lt=1)]
    fidelity_fraction: Annotated[float, Field(gt=0, le=1)] | None


class Train(Strict):
    primary_metric: Literal["roc_auc", "pr_auc"]
    time_budget_s: Positive
    n_trials: Annotated[int, Field(gt=0)] | None
    tune_top_k: Count
    validation: Validation
    pruner: Literal["hyperband", "median"]
    time_gap_rows: Count
    n_jobs: Annotated[int, Field(ge=1)]
    early_stopping_rounds: Annotated[int, Field(gt=0)]
    class_weight: Literal["balanced"] | None
    downsample_majority: Positive | None
    device: Literal["auto", "cpu", "cuda"]
    tracking_uri: Url | None
    ensemble: Ensemble
    value_margin: Annotated[float, Field(ge=0)]
    pruning: Pruning
    automl_reference: AutomlReference
    candidates: dict[CandidateName, Candidate]
    segmentation: Segmentation


# evaluate.yaml, deploy.yaml, monitor.yaml, govern.yaml, enterprise.yaml ---------------------------
class Calibration(Strict):
    methods: list[Literal["sigmoid", "isotonic"]]
    folds: Annotated[int, Field(ge=2)]
    min_brier_gain: Annotated[float, Field(ge=0)]


class Robustness(Strict):
    levels: list[Annotated[float, Field(gt=0, le=1)]]
    gate_level: Annotated[float, Field(gt=0, le=1)]
    max_auc_drop: Probability | None


class Fairness(Strict):
    ship: Literal["none", "auto", "exponentiated_gradient"]
    bound: Probability


class ErrorAnalysis(Strict):
    max_clusters: Annotated[int, Field(ge=2)]
    min_size: Annotated[int, Field(ge=5)]


class Business(Strict):
    contact_cost: Annotated[float, Field(ge=0)]
    retained_value: Annotated[float, Field(ge=0)]
    effect: Probability
    treated_share: Annotated[float, Field(gt=0, lt=1)]
    alpha: Annotated[float, Field(gt=0, lt=1)]
    power: Annotated[float, Field(gt=0, lt=1)]
    min_effect: Annotated[float, Field(gt=0, lt=1)]
    looks: Annotated[int, Field(ge=1)]


class Evaluate(Strict):
    calibration_bins: Annotated[int, Field(ge=2)]
    shap_sample: Annotated[int, Field(gt=0)]
    max_segment_share_psi: Positive | None
    n_boot: Annotated[int, Field(ge=20)]
    min_flagged_share: Probability
    backtest_windows: Annotated[int, Field(ge=2)]
    calibration: Calibration
    error_analysis: ErrorAnalysis
    robustness: Robustness
    fairness: Fairness
    business: Business


class Deploy(Strict):
    latency_requests: Annotated[int, Field(gt=0)]
    host: str
    port: Annotated[int, Field(gt=0, lt=65536)]
    workers: Annotated[int, Field(gt=0)] | None
    tls_cert: str | None
    tls_key: str | None
    auth: bool
    keys_url: Url | None
    keys_cache_s: Annotated[float, Field(ge=0)]
    rate_limit_per_minute: Annotated[int, Field(gt=0)]
    redis_url: Url | None
    cache_ttl_s: Annotated[int, Field(ge=0)]
    cache_size: Annotated[int, Field(gt=0)]
    log_url: Url | None
    pseudonym_key_env: str
    unseen_categories: Literal["other", "refuse"]
    max_body_bytes: Annotated[int, Field(gt=0)]
    max_records: Annotated[int, Field(gt=0)]
    serves: Annotated[str, Field(pattern=r"^(champion|challenger|[0-9]+)$")]
    candidate: str | None
    canary_share: Annotated[float, Field(ge=0, le=1)]
    shadow: bool

    @model_validator(mode="after")
    def _tls_pair(self):
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        return self


class DemoDrift(Strict):
    income_scale: Positive
    amount_scale: Positive
    mobile_shift: float
    complaint_rate_scale: Positive
    churn_logit_shift: float


class Production(Strict):
    months_later: Annotated[int, Field(gt=0)]
    drift: DemoDrift
    shift_std: float


class DriftTests(Strict):
    p_value: Probability
    distance_threshold: Positive


class QualityRules(Strict):
    null_column_share: Probability
    max_missing_increase: Probability
    min_rows: Annotated[int, Field(gt=1)]
    max_out_of_range_share: Probability
    max_unseen_share: Probability
    min_volume_ratio: Probability


class Seasonal(Strict):
    period_days: Annotated[int, Field(gt=1)]
    amplitude: Annotated[float, Field(ge=0, lt=1)]
    columns: list[str] | None


class Broken(Strict):
    column: str | None
    mode: Literal["auto", "null", "constant"]


class NewCategory(Strict):
    column: str | None
    value: str
    share: Probability


class Traffic(Strict):
    scenario: Literal["none", "sudden", "gradual", "seasonal", "broken-column", "new-category"]
    days: Annotated[int, Field(gt=0)]
    start_day: Count
    per_day: Annotated[int, Field(gt=0)]
    batch: Annotated[int, Field(gt=0)]
    rate: Positive
    end: IsoDate | None
    label_delay_days: Count
    ramp_days: Annotated[int, Field(gt=0)]
    seasonal: Seasonal
    broken: Broken
    new_category: NewCategory


class Retrain(Strict):
    every_days: Annotated[int, Field(gt=0)]
    min_feedback: Count


class Promotion(Strict):
    min_labelled: Annotated[int, Field(gt=1)]
    margin: float


class Retention(Strict):
    keep_retired: Count
    archived_model_days: Annotated[int, Field(gt=0)]
    log_days: Annotated[int, Field(gt=0)]
    archived_log_days: Annotated[int, Field(gt=0)]


class Monitor(Strict):
    source: Literal["replay", "log"]
    window: Literal["daily", "weekly"]
    min_labels: Annotated[int, Field(gt=1)]
    psi_threshold: Positive
    max_drifted_share: Probability
    max_prediction_psi: Positive
    max_auc_drop: Probability
    drift: DriftTests
    quality: QualityRules
    production: Production
    traffic: Traffic
    retrain: Retrain
    promotion: Promotion
    retention: Retention


class PersonalField(Strict):
    category: str
    purpose: str
    model_input: bool


class DifferentialPrivacy(Strict):
    enabled: bool
    ship_epsilon: Positive | None
    epsilons: list[Positive] = Field(min_length=1)
    repeats: Annotated[int, Field(ge=1)]
    data_norm: Positive


class Access(Strict):
    purposes: dict[str, list[str]]
    spike: Annotated[float, Field(gt=1)]
    min_ids: Annotated[int, Field(ge=1)]


class Roles(Strict):
    default: str
    grants: dict[str, list[Literal["quarantine", "entities", "events", "raw_identifiers"]]]


class TrafficAudit(Strict):
    days: int = Field(ge=1)  # the latest days of labelled live decisions audited
    min_records: Count  # fewer decisions with recorded groups fail the audit's coverage gate


class Govern(Strict):
    personal_data: dict[str, PersonalField]
    report_only: list[str]
    retention: str
    reviewers: list[str] = Field(min_length=1)
    mitigations: list[str]
    actionable: list[str]
    differential_privacy: DifferentialPrivacy
    access: Access
    traffic_audit: TrafficAudit
    roles: Roles


class Enterprise(Strict):
    warehouse_url: Url
    scores_table: str
    segments_table: str
    cpu_hour_price: Annotated[float, Field(ge=0)]  # what a CPU-hour costs: the runs' compute priced
    currency: str


# compute.yaml -------------------------------------------------------------------------------------
class Compute(Strict):
    backend: Literal["local", "dask"]
    scheduler_address: str | None  # tcp://host:8786; null: $DASK_SCHEDULER_ADDRESS, else a LocalCluster
    local_workers: Annotated[int, Field(ge=1)]
    threads_per_worker: Annotated[int, Field(ge=1)]
    search_rows: Annotated[int, Field(ge=100)] | None  # dask: the search on a sample of this many training rows
    storage_url: Url | None  # ingest's tables and the feature table also published here (fsspec URL)


SCHEMAS: dict[str, type[Strict]] = {
    "project": Project, "data": Data, "ingest": Ingest, "features": Features, "train": Train,
    "evaluate": Evaluate, "deploy": Deploy, "monitor": Monitor, "govern": Govern, "enterprise": Enterprise,
    "compute": Compute,
}
