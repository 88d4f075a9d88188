"""Every monitoring figure per window of logged traffic (daily or weekly), and the alerts they raise.

Per window: volume; each input's drift test against the training rows (`drift_tests`) and the
share drifted; prediction drift against the holdout's scores (PSI, mean shift); data-quality
alerts (`quality`); ROC AUC, precision and recall at the operating point estimated from the
calibrated scores (`estimate`, before any outcome) and realised from the outcomes that have
arrived (when a window has `min_labels` of them, both classes). A condition that holds over
consecutive windows is one alert, dated by the window it started in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mining.monitor.drift_tests import NoiseFloors, window_drift
from mining.monitor.estimate import (calibrator, estimated_precision_recall, estimated_roc_auc,
                                     realised_precision_recall)
from mining.monitor.quality import CRITICAL, WARNING, alert, expected_unseen, quality_alerts
from mining.stats import score_drift, segment_drift

SEVERITY = {"warning": 1, "critical": 2}


@dataclass
class Baseline:
    """What a window is compared with: the training rows, the holdout's scores and outcomes, the
    bundle's input schema and operating threshold."""
    reference: pd.DataFrame
    definitions: dict
    inputs: dict[str, dict]
    holdout_scores: np.ndarray  # the segments, for a segmenter
    holdout_target: np.ndarray | None  # None: a segmenter (no outcome to estimate or realise)
    threshold: float | None

    @property
    def segmenter(self) -> bool:
        return self.holdout_target is None

    @property
    def holdout_auc(self) -> float:
        return float(roc_auc_score(self.holdout_target, self.holdout_scores))


def window_of(at: pd.Series, unit: str) -> pd.Series:
    """The window a time falls in: its day, or the Monday of its ISO week (as YYYY-MM-DD)."""
    day = at.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    if unit == "weekly":
        day = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return day.dt.strftime("%Y-%m-%d")


def window_end(window: str, unit: str) -> pd.Timestamp:
    return pd.Timestamp(window, tz="UTC") + pd.Timedelta(days=7 if unit == "weekly" else 1)


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982): the sampling standard error of a ROC AUC on this many outcomes."""
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc ** 2) + (negatives - 1) * (q2 - auc ** 2)) / (positives * negatives)
    return float(np.sqrt(max(var, 0.0)))


def performance(scores: np.ndarray, target: np.ndarray, threshold: float, min_labels: int) -> dict:
    """Realised ROC AUC (with its standard error), precision and recall on the labelled records
    (None below `min_labels` or with one class)."""
    known = ~np.isnan(target)
    y, s = target[known], scores[known]
    if known.sum() < min_labels or len(np.unique(y)) < 2:
        return {"labelled": int(known.sum()), "realised_roc_auc": None, "realised_roc_auc_se": None,
                "realised_precision": None, "realised_recall": None}
    precision, recall = realised_precision_recall(s >= threshold, y)
    auc = float(roc_auc_score(y, s))
    return {"labelled": int(known.sum()), "realised_roc_auc": auc,
            "realised_roc_auc_se": auc_standard_error(auc, int(y.sum()), int(len(y) - y.sum())),
            "realised_precision": precision, "realised_recall": recall}


def decayed(row: dict, figure: str, holdout_auc: float, max_drop: float) -> bool:
    """The window's ROC AUC is below the holdout's by more than `max_drop`, beyond sampling noise: for the
    realised figure, even its 95 % upper bound is (weekly windows of ~100 positives vary by +-0.02)."""
    value = row.get(figure)
    if value is None or pd.isna(value):
        return False
    upper = value + 1.96 * row["realised_roc_auc_se"] if figure == "realised_roc_auc" else value
    return holdout_auc - upper > max_drop


def over_windows(scored: pd.DataFrame, base: Baseline, mon: dict, as_of: pd.Timestamp,
                 ) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """(one row of figures per window, each input's test per window, the alerts) for the logged
    records of `scored` (columns: at, score, target (NaN until known), and the inputs)."""
    unit = mon["window"]
    scored = scored.assign(window=window_of(scored["at"], unit))
    floors = NoiseFloors(base.reference)
    inputs = {name: spec | ({"expected_unseen": expected_unseen(base.reference[name])}
                            if spec.get("categories") and name in base.reference else {})
              for name, spec in base.inputs.items()}
    to_probability = None if base.segmenter else calibrator(base.holdout_scores, base.holdout_target)
    figures, tests, conditions, volumes = [], [], [], []
    for window, rows in scored.groupby("window", sort=True):
        complete = window_end(window, unit) <= as_of
        drift = window_drift(base.reference, rows, base.definitions, float(mon["drift"]["distance_threshold"]),
                             float(mon["drift"]["p_value"]), floors)
        tests.append(drift.assign(window=window))
        drifted = drift.loc[drift["drifted"], "feature"].tolist()
        conditions += [alert("feature_drift", window, WARNING, f"{row.method} {row.statistic:.3g}, PSI {row.psi:.3f}",
                             row.feature) for row in drift[drift["drifted"]].itertuples()]
        conditions += quality_alerts(window, rows, inputs, mon["quality"], volumes if complete else [])
        conditions += broken_days(window, rows, inputs, mon["quality"], conditions)
        if complete:
            volumes.append(len(rows))
        row = {"window": window, "complete": complete, "records": len(rows),
               "drifted_features": len(drifted), "drifted_share": len(drifted) / max(len(drift), 1),
               "drifted_feature_names": ", ".join(drifted)}
        if base.segmenter:
            moved = segment_drift(base.holdout_scores, rows["segment"].to_numpy(int), len(np.unique(base.holdout_scores)))
            row |= {"segment_psi": moved["psi"], "largest_share_change": moved["mean_shift"]}
        else:
            scores = rows["score"].to_numpy(float)
            moved = score_drift(base.holdout_scores, scores)
            probability = to_probability.predict(scores)
            flagged = scores >= base.threshold
            est_precision, est_recall = estimated_precision_recall(flagged, probability)
            row |= {"score_psi": moved["psi"], "mean_score_shift": moved["mean_shift"],
                    "flagged_share": float(flagged.mean()), "estimated_roc_auc": estimated_roc_auc(scores, probability),
                    "estimated_precision": est_precision, "estimated_recall": est_recall,
                    **performance(scores, rows["target"].to_numpy(float), base.threshold, int(mon["min_labels"]))}
        if moved["psi"] > mon["max_prediction_psi"]:
            conditions.append(alert("prediction_drift", window, WARNING, f"output PSI {moved['psi']:.3f}, shift "
                                    f"{moved['mean_shift']:+.3f} (monitor.max_prediction_psi={mon['max_prediction_psi']})"))
        for kind, figure in (("performance_drop", "realised_roc_auc"), ("estimated_performance_drop", "estimated_roc_auc")):
            if not base.segmenter and decayed(row, figure, base.holdout_auc, mon["max_auc_drop"]):
                conditions.append(alert(kind, window, WARNING, f"{figure} {row[figure]:.3f} against {base.holdout_auc:.3f} "
                                        f"on the holdout (monitor.max_auc_drop={mon['max_auc_drop']})"))
        row["alerts"] = sum(c["window"] == window for c in conditions)
        figures.append(row)
    table = pd.DataFrame(figures)
    return table, pd.concat(tests, ignore_index=True) if tests else pd.DataFrame(), runs(conditions, table["window"].tolist()
                                                                                         if len(table) else [])


def broken_days(window: str, rows: pd.DataFrame, inputs: dict[str, dict], rules: dict, found: list[dict]) -> list[dict]:
    """Critical alerts (a column null or constant) that hold on one day of the window although not
    on the whole window: a field that broke mid-week is caught in the window it broke in."""
    seen = {(a["kind"], a["feature"]) for a in found if a["window"] == window}
    out = []
    for day, part in rows.groupby(rows["at"].dt.strftime("%Y-%m-%d"), sort=True):
        for a in quality_alerts(window, part, inputs, rules, []):
            if a["severity"] == CRITICAL and (a["kind"], a["feature"]) not in seen:
                seen.add((a["kind"], a["feature"]))
                out.append(a | {"detail": f"from {day}: {a['detail']}"})
    return out


def runs(conditions: list[dict], windows: list[str]) -> list[dict]:
    """One alert per run of consecutive windows with the same (kind, feature): dated by the window
    it started in, with the last window it held in and how many windows it lasted."""
    position = {w: i for i, w in enumerate(windows)}
    by_key: dict[tuple, list[dict]] = {}
    for c in conditions:
        by_key.setdefault((c["kind"], c["feature"]), []).append(c)
    out = []
    for found in by_key.values():
        found.sort(key=lambda c: position[c["window"]])
        run: list[dict] = []
        for c in found:
            if run and position[c["window"]] != position[run[-1]["window"]] + 1:
                out.append(merged(run))
                run = []
            run.append(c)
        out.append(merged(run))
    return sorted(out, key=lambda a: (position[a["window"]], -SEVERITY[a["severity"]], a["kind"], a["feature"] or ""))


def merged(run: list[dict]) -> dict:
    first = run[0]
    severity = max((c["severity"] for c in run), key=SEVERITY.get)
    return {**first, "severity": severity, "last_window": run[-1]["window"], "windows": len(run)}
