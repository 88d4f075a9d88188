"""What the model search's time budget bought: the best cross-validated score against the search
seconds spent, from the trials table train writes."""

from __future__ import annotations

import pandas as pd


def budget_curve(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per trial in the order trials started: seconds of search spent by its end (pruned and
    failed trials cost time too) and the best completed score so far."""
    ordered = trials.sort_values("started_at", kind="stable")
    value = ordered["value"].where(ordered["state"] == "COMPLETE")
    curve = pd.DataFrame({"seconds": ordered["duration_s"].fillna(0).cumsum().to_numpy(),
                          "best": value.cummax().ffill().to_numpy(), "candidate": ordered["candidate"].to_numpy()})
    return curve.dropna(subset=["best"]).reset_index(drop=True)


def budget_effect(curve: pd.DataFrame, within: float = 0.001) -> dict:
    """The search's total seconds, its best score, the best at half those seconds, and the seconds
    it took to come within `within` of the best (what a smaller budget would have kept)."""
    total, best = float(curve["seconds"].iloc[-1]), float(curve["best"].iloc[-1])
    half = curve.loc[curve["seconds"] <= total / 2, "best"]
    return {"seconds": total, "best": best, "best_at_half": float(half.iloc[-1]) if len(half) else None,
            "within": within, "seconds_to_within": float(curve.loc[curve["best"] >= best - within, "seconds"].iloc[0])}
