"""Business impact: A/B analysis of a retention campaign and the money it makes.

`two_proportion_test` and `bootstrap_lift` read an experiment's outcome; `sample_size` says how
many customers per arm an experiment needs before it starts; `peeking_false_positive_rate` says
what looking at the result every so often does to the error rate (the reason to fix the sample
size or use a sequential design). `simulate_campaign` runs the experiment the demo cannot run
for real: flagged holdout customers split into a called arm and a control arm, where a call
saves a share of those who would have left. `value_curve` turns the threshold into money.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def two_proportion_test(events_a: int, n_a: int, events_b: int, n_b: int, alpha: float = 0.05) -> dict:
    """Pooled two-sided z-test of p_b - p_a, with the unpooled (Wald) interval of the difference."""
    p_a, p_b = events_a / n_a, events_b / n_b
    pooled = (events_a + events_b) / (n_a + n_b)
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (p_b - p_a) / se0 if se0 > 0 else 0.0
    se = np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    q = stats.norm.ppf(1 - alpha / 2)
    return {"p_a": p_a, "p_b": p_b, "difference": p_b - p_a, "z": float(z),
            "p_value": float(2 * stats.norm.sf(abs(z))),
            "difference_ci": [float(p_b - p_a - q * se), float(p_b - p_a + q * se)]}


def bootstrap_lift(outcome_a: np.ndarray, outcome_b: np.ndarray, *, n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95) -> dict:
    """Relative lift p_b / p_a - 1 with a percentile interval (each arm resampled on its own)."""
    a, b = np.asarray(outcome_a, dtype=float), np.asarray(outcome_b, dtype=float)
    rng = np.random.default_rng(seed)
    ma = rng.binomial(len(a), a.mean(), n_boot) / len(a)  # resampled arm means (bootstrap of 0/1 outcomes)
    mb = rng.binomial(len(b), b.mean(), n_boot) / len(b)
    ok = ma > 0
    lifts = mb[ok] / ma[ok] - 1
    tail = (1 - level) / 2 * 100
    return {"lift": float(b.mean() / a.mean() - 1) if a.mean() > 0 else float("nan"),
            "lift_ci": [float(np.percentile(lifts, tail)), float(np.percentile(lifts, 100 - tail))]}


def sample_size(p_base: float, min_effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers per arm for a two-sided two-proportion test to detect p_base -> p_base + min_effect."""
    p1, p2 = p_base, p_base + min_effect
    if not (0 < p1 < 1 and 0 < p2 < 1) or min_effect == 0:
        raise ValueError(f"sample size: base rate {p_base} and effect {min_effect} must give two rates in (0, 1)")
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    pbar = (p1 + p2) / 2
    n = (za * np.sqrt(2 * pbar * (1 - pbar)) + zb * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / min_effect ** 2
    return int(np.ceil(n))


def peeking_false_positive_rate(looks: int, alpha: float = 0.05, sims: int = 20000, seed: int = 0) -> float:
    """Chance of a 'significant' result under no effect when the z-test is checked at `looks`
    equally spaced interim analyses and the experiment stops at the first hit (Armitage et al.)."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(size=(sims, looks)).cumsum(axis=1)
    z = steps / np.sqrt(np.arange(1, looks + 1))
    return float((np.abs(z) > stats.norm.ppf(1 - alpha / 2)).any(axis=1).mean())


def simulate_campaign(y: np.ndarray, flagged: np.ndarray, *, effect: float, treated_share: float,
                      seed: int) -> pd.DataFrame:
    """The flagged customers, randomised into `called` (share `treated_share`) and `control`; a call
    saves each would-be leaver with probability `effect`. Columns: arm, left (observed)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)[np.asarray(flagged, dtype=bool)]
    called = rng.random(len(y)) < treated_share
    saved = called & (y == 1) & (rng.random(len(y)) < effect)
    return pd.DataFrame({"arm": np.where(called, "called", "control"), "left": (y == 1) & ~saved})


def value_curve(y: np.ndarray, scores: np.ndarray, *, effect: float, contact_cost: float,
                retained_value: float, points: int = 101) -> pd.DataFrame:
    """Expected net value of calling everyone at or above each threshold: every call costs
    `contact_cost`, every leaver called is kept with probability `effect` and is worth
    `retained_value`."""
    y, s = np.asarray(y), np.asarray(scores)
    grid = np.unique(np.quantile(s, np.linspace(0, 1, points)))
    rows = []
    for t in grid:
        hit = s >= t
        saved = effect * y[hit].sum()
        rows.append({"threshold": float(t), "called": int(hit.sum()), "expected_saved": float(saved),
                     "value": float(saved * retained_value - hit.sum() * contact_cost)})
    return pd.DataFrame(rows)


def business_case(y: np.ndarray, scores: np.ndarray, threshold: float, *, effect: float, contact_cost: float,
                  retained_value: float, treated_share: float, alpha: float, power: float, min_effect: float,
                  looks: int, n_boot: int, seed: int) -> tuple[dict, pd.DataFrame]:
    """(the evaluation's business figures, the value curve): value at the operating threshold and
    the best threshold for value; the simulated A/B read with the two-proportion test and the
    bootstrapped lift; the sample size a real test needs; the error rate under `looks` peeks."""
    y, scores = np.asarray(y), np.asarray(scores)
    flagged = scores >= threshold
    curve = value_curve(y, scores, effect=effect, contact_cost=contact_cost, retained_value=retained_value)
    best = curve.loc[curve["value"].idxmax()]
    campaign = simulate_campaign(y, flagged, effect=effect, treated_share=treated_share, seed=seed)
    control = campaign.loc[campaign["arm"] == "control", "left"].to_numpy()
    called = campaign.loc[campaign["arm"] == "called", "left"].to_numpy()
    test = two_proportion_test(int(control.sum()), len(control), int(called.sum()), len(called), alpha)
    base_rate = float(control.mean())
    return {"best_threshold": float(best["threshold"]), "best_value": float(best["value"]),
            "best_called": int(best["called"]),
            "value_at_operating_threshold": float(y[flagged].sum() * effect * retained_value - flagged.sum() * contact_cost),
            "ab_test": {**test, **bootstrap_lift(control, called, n_boot=n_boot, seed=seed),
                        "arms": [{"arm": "called", "sum": int(called.sum()), "count": len(called)},
                                 {"arm": "control", "sum": int(control.sum()), "count": len(control)}]},
            "base_rate": base_rate, "sample_size_per_arm": sample_size(base_rate, -min_effect, alpha, power),
            "peeking_false_positive_rate": peeking_false_positive_rate(looks, alpha)}, curve
