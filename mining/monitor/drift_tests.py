"""Per-feature drift with the test chosen by the feature's type and the reference size, as
Evidently's default preset chooses it.

Up to 1,000 reference rows, statistical tests (a p-value below 0.05 is drift): two-sample
Kolmogorov-Smirnov for numbers, chi-square (a two-sample contingency test) for categories and for
numbers with five values or fewer. Above that, p-values flag trivial shifts, so distances with a threshold (0.1 by default):
the Wasserstein distance normed by the reference's standard deviation for numbers, the
Jensen-Shannon distance of the level frequencies for categories. PSI is reported beside every
test. The formulas come from scipy; Evidently itself is not a dependency (it pins its own stack).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

SMALL = 1000  # reference rows up to which statistical tests are used
FEW_VALUES = 5  # a numeric feature with this many distinct values or fewer is tested as categorical


def method_for(reference: pd.Series, numeric: bool) -> str:
    """The test Evidently would choose for this feature."""
    categorical = not numeric or reference.nunique(dropna=True) <= FEW_VALUES
    if len(reference) <= SMALL:
        return "chi-square" if categorical else "ks"
    return "jensen-shannon" if categorical else "wasserstein"


def _frequencies(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    levels = sorted(set(reference.dropna().astype(str)) | set(current.dropna().astype(str)))
    ref = reference.dropna().astype(str).value_counts().reindex(levels, fill_value=0).to_numpy(float)
    cur = current.dropna().astype(str).value_counts().reindex(levels, fill_value=0).to_numpy(float)
    return ref, cur


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    e, a = np.clip(ref / max(ref.sum(), 1), 1e-4, None), np.clip(cur / max(cur.sum(), 1), 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_test(reference: pd.Series, current: pd.Series, numeric: bool, threshold: float = 0.1,
               p_value: float = 0.05) -> dict:
    """One feature's drift: the method, its statistic, whether it drifted, and PSI beside it."""
    method = method_for(reference, numeric)
    ref, cur = reference.dropna(), current.dropna()
    if not len(cur) or not len(ref):
        return {"method": method, "statistic": None, "drifted": False, "psi": None, "note": "no values to compare"}
    if method in ("chi-square", "jensen-shannon"):
        fr, fc = _frequencies(ref, cur)
        psi = _psi(fr, fc)
        if method == "chi-square":  # two samples (the reference is a sample too), not goodness of fit
            p = float(stats.chi2_contingency(np.stack([fr, fc])).pvalue) if len(fr) > 1 else 1.0
            return {"method": method, "statistic": p, "drifted": p < p_value, "psi": psi}
        distance = float(jensenshannon(fr / fr.sum(), fc / fc.sum(), base=2))
        return {"method": method, "statistic": distance, "drifted": distance >= threshold, "psi": psi}
    r, c = ref.to_numpy(float), cur.to_numpy(float)
    edges = np.unique(np.quantile(r, np.linspace(0, 1, 11)[1:-1]))
    psi = _psi(np.bincount(np.searchsorted(edges, r), minlength=len(edges) + 1),
               np.bincount(np.searchsorted(edges, c), minlength=len(edges) + 1))
    if method == "ks":
        p = float(stats.ks_2samp(r, c).pvalue)
        return {"method": method, "statistic": p, "drifted": p < p_value, "psi": psi}
    scale = float(np.std(r)) or 1.0
    distance = float(stats.wasserstein_distance(r, c)) / scale
    return {"method": method, "statistic": distance, "drifted": distance >= threshold, "psi": psi}


def window_drift(reference: pd.DataFrame, current: pd.DataFrame, definitions: dict, threshold: float = 0.1,
                 p_value: float = 0.05) -> pd.DataFrame:
    """Every model input of `current` against `reference`: one row per feature, drifted first."""
    rows = []
    for f in definitions["features"]:
        name = f["name"]
        if name not in current:
            continue
        rows.append({"feature": name, **drift_test(reference[name], current[name], f["kind"] == "numeric",
                                                   threshold, p_value)})
    out = pd.DataFrame(rows)
    return out.sort_values(["drifted", "feature"], ascending=[False, True]).reset_index(drop=True)
