"""The built-in demo data: a seeded, synthetic retail-bank customer base with a transaction history.

Why synthetic: the pipeline must run anywhere with no download, and a generator lets stage 07 draw
a later "production" window with drift injected on purpose. The churn label is defined on a window
*after* the feature cut-off (closed the account within `horizon_days`), and churners' activity fades
before they leave, so the honest signal lives in the history before the cut-off. Events after the
cut-off are generated too: a feature pipeline that peeks past the cut-off will look better than it
is, which is exactly what the leakage test checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

REGIONS = ["north", "south", "east", "west", "central", "coast", "lakes", "hills", "plains", "metro"]
PLANS = ["basic", "plus", "premium", "student"]
CHANNELS = ["branch", "online", "mobile"]
EVENT_TYPES = ["card_payment", "transfer_out", "transfer_in", "atm", "fee"]
AGE_BANDS = ["18-29", "30-44", "45-64", "65+"]

# The declared contract of what the generator produces; ingest validates the demo against it.
SCHEMA: dict[str, dict] = {
    "customers": {
        "customer_id": {"type": "string", "required": True, "unique": True},
        "gender": {"type": "category", "required": True, "allowed": ["F", "M", "X"]},
        "age_band": {"type": "category", "required": True, "allowed": AGE_BANDS},
        "region": {"type": "category", "required": True, "allowed": REGIONS},
        "zip_code": {"type": "category", "required": True},
        "plan": {"type": "category", "required": True, "allowed": PLANS},
        "preferred_channel": {"type": "category", "required": False, "allowed": CHANNELS},
        "signup_date": {"type": "datetime", "required": True},
        "tenure_months": {"type": "int", "required": True, "min": 0, "max": 600},
        "income": {"type": "float", "required": False, "min": 0},
        "credit_score": {"type": "float", "required": False, "min": 300, "max": 850},
        "num_products": {"type": "int", "required": True, "min": 1, "max": 10},
        "complaints_12m": {"type": "int", "required": True, "min": 0},
        "has_mobile_app": {"type": "bool", "required": True},
        "churned": {"type": "int", "required": True, "allowed": [0, 1]},
    },
    "events": {
        "customer_id": {"type": "string", "required": True},
        "event_time": {"type": "datetime", "required": True},
        "event_type": {"type": "category", "required": True, "allowed": EVENT_TYPES},
        "channel": {"type": "category", "required": False, "allowed": CHANNELS},
        "amount": {"type": "float", "required": True, "min": 0},
    },
}


@dataclass(frozen=True)
class Drift:
    """Shifts injected into a later window, so that monitoring has something real to find."""

    income_scale: float = 1.0
    amount_scale: float = 1.0
    mobile_shift: float = 0.0  # share of branch/online customers moved to mobile
    complaint_rate_scale: float = 1.0
    churn_logit_shift: float = 0.0


@dataclass(frozen=True)
class DemoSpec:
    n_customers: int = 20_000
    events_per_month: float = 3.7
    history_months: int = 13
    horizon_days: int = 90
    cutoff: str = "2026-01-01"
    churn_rate: float = 0.12
    seed: int = 42
    drift: Drift = field(default_factory=Drift)
    world_seed: int | None = None  # what stays put between populations (ZIP effects and incomes); None = seed


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _customers(spec: DemoSpec, rng: np.random.Generator) -> pd.DataFrame:
    n = spec.n_customers
    cutoff = pd.Timestamp(spec.cutoff)
    d = spec.drift
    region = rng.choice(REGIONS, size=n, p=np.r_[np.full(9, 0.09), 0.19])
    region_idx = np.searchsorted(np.array(sorted(REGIONS)), region)
    # ~50 ZIP-like codes per region: the high-cardinality field, with its own churn effect
    zip_local = rng.zipf(1.6, size=n) % 50
    zip_code = np.char.add(np.char.add(np.array([f"{r:02d}" for r in region_idx]), "-"),
                           np.char.zfill(zip_local.astype(str), 3))
    # The ZIP codes' own churn effect and income level belong to the world, not to one draw of
    # customers: a later population (monitoring's traffic) keeps them by keeping the world seed.
    world = np.random.default_rng([spec.seed if spec.world_seed is None else spec.world_seed, 2024])
    zip_effect = world.normal(0, 0.45, size=len(REGIONS) * 50)[region_idx * 50 + zip_local]
    zip_income = world.lognormal(0, 0.25, size=len(REGIONS) * 50)[region_idx * 50 + zip_local]

    age = np.clip(rng.normal(45, 16, size=n), 18, 95)
    age_band = np.select([age < 30, age < 45, age < 65], AGE_BANDS[:3], AGE_BANDS[3])
    gender = rng.choice(["F", "M", "X"], size=n, p=[0.49, 0.49, 0.02])
    plan = rng.choice(PLANS, size=n, p=[0.45, 0.3, 0.15, 0.10])
    plan = np.where((age < 26) & (rng.random(n) < 0.5), "student", plan)
    channel = rng.choice(CHANNELS, size=n, p=[0.25, 0.35, 0.40])
    moved = (channel != "mobile") & (rng.random(n) < d.mobile_shift)
    channel = np.where(moved, "mobile", channel).astype(object)
    tenure = np.minimum(rng.gamma(1.6, 26, size=n).astype(int), 480)
    signup = cutoff - pd.to_timedelta(tenure * 30.4, unit="D")
    income = 38_000 * zip_income * np.exp(0.012 * (np.minimum(age, 60) - 40)) * rng.lognormal(0, 0.35, n)
    income *= np.where(plan == "premium", 1.8, 1.0) * d.income_scale
    credit = np.clip(rng.normal(680, 60, n) + 0.0006 * (income - 40_000), 300, 850).round()
    num_products = 1 + rng.poisson(np.where(plan == "premium", 1.8, 0.7))
    complaints = rng.poisson(0.25 * d.complaint_rate_scale + 0.5 * (rng.random(n) < 0.08), size=n)
    app = (channel == "mobile") | (rng.random(n) < 0.3)

    # Non-linear churn risk: early-tenure hump, saturating complaints, a plan x products interaction,
    # low income, and a ZIP effect that only a good encoding of the high-cardinality field recovers.
    logit = (
        2.0 * np.exp(-tenure / 8.0)
        + 1.8 * np.tanh(0.9 * complaints)
        + 0.9 * ((complaints > 0) & ~app)
        + np.where((plan == "basic") & (num_products == 1), 1.1, 0.0)
        - np.where((plan == "premium") & (num_products >= 3), 1.2, 0.0)
        + 1.0 * (income < 25_000)
        - 0.006 * (credit - 680)
        - 0.4 * app
        + 1.4 * zip_effect
        + d.churn_logit_shift
    )
    logit += _calibrate_intercept(logit, spec.churn_rate)
    churned = (rng.random(n) < _sigmoid(logit)).astype(int)

    customers = pd.DataFrame({
        "customer_id": [f"C{spec.seed:03d}{i:07d}" for i in range(n)],
        "gender": gender, "age_band": age_band, "region": region, "zip_code": zip_code,
        "plan": plan, "preferred_channel": channel, "signup_date": signup,
        "tenure_months": tenure, "income": income.round(2), "credit_score": credit,
        "num_products": num_products, "complaints_12m": complaints, "has_mobile_app": app,
        "churned": churned,
    })
    # Real-world untidiness: missing incomes and scores, an unknown channel, a few outliers
    customers.loc[rng.random(n) < 0.08, "income"] = np.nan
    customers.loc[rng.random(n) < 0.03, "credit_score"] = np.nan
    customers.loc[rng.random(n) < 0.02, "preferred_channel"] = None
    outliers = rng.random(n) < 0.002
    customers.loc[outliers, "income"] = customers.loc[outliers, "income"] * 40
    # ...and rows a validating ingest must catch: a legacy sentinel score, re-sent records
    customers.loc[rng.random(n) < 0.001, "credit_score"] = 999
    dupes = customers.sample(max(n // 4000, 1), random_state=spec.seed).assign(income=np.nan)
    return pd.concat([customers, dupes], ignore_index=True)


def _calibrate_intercept(logit: np.ndarray, rate: float) -> float:
    """Shift that makes the mean churn probability equal `rate` (bisection; monotone in the shift)."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _sigmoid(logit + mid).mean() < rate else (lo, mid)
    return (lo + hi) / 2


def _events(spec: DemoSpec, customers: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    cutoff = pd.Timestamp(spec.cutoff)
    start = cutoff - pd.DateOffset(months=spec.history_months)
    n = len(customers)
    start_i = np.maximum(customers["signup_date"].to_numpy(), start.to_datetime64())
    churn_day = np.where(customers["churned"].to_numpy() == 1,
                         rng.integers(0, spec.horizon_days, n), spec.horizon_days)
    end_i = cutoff.to_datetime64() + churn_day.astype("timedelta64[D]")
    span_days = (end_i - start_i).astype("timedelta64[D]").astype(float)
    rate = spec.events_per_month * rng.gamma(2.0, 0.5, n) * np.where(customers["plan"] == "premium", 1.5, 1.0)
    counts = rng.poisson(rate * np.maximum(span_days, 0) / 30.4)
    cust = np.repeat(np.arange(n), counts)
    u = rng.random(len(cust))
    offset_days = u * span_days[cust]
    t = start_i[cust] + (offset_days * 86_400).astype("timedelta64[s]")
    # Three in four churners fade out over the 120 days before they leave; thin their events.
    days_to_end = (end_i[cust] - t).astype("timedelta64[s]").astype(float) / 86_400
    fading = (customers["churned"].to_numpy()[cust] == 1) & (rng.random(n) < 0.75)[cust]
    keep = ~fading | (rng.random(len(cust)) < np.clip(0.05 + days_to_end / 150, 0, 1))
    cust, t = cust[keep], t[keep]
    etype = rng.choice(EVENT_TYPES, size=len(cust), p=[0.55, 0.15, 0.15, 0.1, 0.05])
    income = customers["income"].fillna(38_000).to_numpy()[cust]
    amount = rng.lognormal(np.log(np.clip(income, 5_000, 400_000) / 1_000), 0.9) * spec.drift.amount_scale
    amount = np.where(etype == "fee", rng.uniform(1, 15, len(cust)), amount)
    amount[rng.random(len(cust)) < 1e-4] *= 200  # rare huge transfers
    pref = customers["preferred_channel"].fillna("online").to_numpy()[cust]
    channel = np.where(rng.random(len(cust)) < 0.7, pref, rng.choice(CHANNELS, size=len(cust))).astype(object)
    channel[rng.random(len(cust)) < 0.01] = None
    amount[rng.random(len(cust)) < 2e-5] *= -1  # sign errors from a bad upstream export
    events = pd.DataFrame({
        "customer_id": customers["customer_id"].to_numpy()[cust],
        "event_time": pd.to_datetime(t).floor("s"),
        "event_type": etype, "channel": channel, "amount": amount.round(2),
    })
    return events.sort_values(["event_time", "customer_id"], kind="stable").reset_index(drop=True)


def generate(spec: DemoSpec) -> dict[str, pd.DataFrame]:
    """The demo source: `customers` (one row per customer, with the label) and `events`."""
    rng = np.random.default_rng(spec.seed)
    customers = _customers(spec, rng)
    return {"customers": customers, "events": _events(spec, customers, rng)}


def spec_from_params(demo: dict, seed: int, cutoff: str, horizon_days: int, **overrides) -> DemoSpec:
    """Build a DemoSpec from `params/data.yaml: demo` (plus the cut-off and horizon of `events`)."""
    drift = overrides.pop("drift", None)
    return DemoSpec(
        n_customers=int(demo["n_customers"]),
        events_per_month=float(demo["events_per_month"]),
        history_months=int(demo["history_months"]),
        churn_rate=float(demo["churn_rate"]),
        cutoff=str(cutoff), horizon_days=int(horizon_days), seed=int(seed),
        drift=Drift(**drift) if drift else Drift(),
        **overrides,
    )
