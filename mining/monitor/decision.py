"""Whether the latest window calls for retraining, and why: drift, decay or schedule, each reason
naming the window, the figures and the params key it breached."""

from __future__ import annotations

import pandas as pd

from mining.monitor.windows import decayed

DRIFT, DECAY, SCHEDULE = "drift", "decay", "schedule"


def latest(windows: pd.DataFrame) -> pd.Series | None:
    """The newest complete window (the newest of all when none is complete yet)."""
    if not len(windows):
        return None
    complete = windows[windows["complete"]]
    return (complete if len(complete) else windows).iloc[-1]


def retrain_decision(windows: pd.DataFrame, alerts: list[dict], holdout_auc: float | None, mon: dict,
                     champion_age_days: float | None) -> dict:
    """Retrain when too many inputs drifted in the latest window, its predictions moved, realised
    (or, before labels, estimated) ROC AUC fell below the holdout's beyond noise (`windows.decayed`),
    or the champion is older than `retrain.every_days`."""
    reasons: list[dict] = []
    last = latest(windows)
    if last is not None:
        w = last["window"]
        if last["drifted_share"] > mon["max_drifted_share"]:
            since = {a["feature"]: a["window"] for a in alerts
                     if a["kind"] == "feature_drift" and a["window"] <= w <= a["last_window"]}
            named = ", ".join(f"{f} (since {since.get(f, w)})" for f in last["drifted_feature_names"].split(", "))
            reasons.append({"kind": DRIFT, "text": f"window {w}: {last['drifted_share']:.0%} of inputs drifted: {named}; "
                                                   f"above monitor.max_drifted_share={mon['max_drifted_share']}"})
        psi = last.get("score_psi", last.get("segment_psi"))
        if psi is not None and psi > mon["max_prediction_psi"]:
            reasons.append({"kind": DRIFT, "text": f"window {w}: prediction PSI {psi:.3f} above "
                                                   f"monitor.max_prediction_psi={mon['max_prediction_psi']}"})
    if holdout_auc is not None and len(windows):
        labelled = windows[windows["realised_roc_auc"].notna()]
        for figure, rows, word in (("realised_roc_auc", labelled, "realised"),
                                   ("estimated_roc_auc", windows.tail(1), "estimated (outcomes not in yet)")):
            if not len(rows) or pd.isna(rows[figure].iloc[-1]):
                continue
            value, w = float(rows[figure].iloc[-1]), rows["window"].iloc[-1]
            if decayed(rows.iloc[-1].to_dict(), figure, holdout_auc, mon["max_auc_drop"]):
                reasons.append({"kind": DECAY, "text": f"window {w}: {word} ROC AUC {value:.3f} against {holdout_auc:.3f} "
                                                       f"on the holdout, a drop above monitor.max_auc_drop={mon['max_auc_drop']}"})
                break
    every = mon["retrain"]["every_days"]
    if champion_age_days is not None and champion_age_days > every:
        reasons.append({"kind": SCHEDULE, "text": f"the champion has served {champion_age_days:.0f} days, above "
                                                  f"monitor.retrain.every_days={every}"})
    return {"retrain": bool(reasons), "reasons": reasons, "kinds": sorted({r["kind"] for r in reasons}),
            "reason": "; ".join(r["text"] for r in reasons) or None}
