"""Per-feature drift with the test chosen by the feature's type and the reference size, as
Evidently's default preset chooses it.

Up to 1,000 reference rows, statistical tests (a p-value below 0.05 is drift): two-sample
Kolmogorov-Smirnov for numbers, chi-square (a two-sample contingency test) for categories and for
numbers with five values or fewer. Above that, p-values flag trivial shifts, so distances with a threshold (0.1 by default):
the Wasserstein distance normed by the reference's standard deviation for numbers (both clipped to
the reference's 1st-99th percentiles), the
Jensen-Shannon distance of the level frequencies for categories (levels under 1 % of the reference
pooled, so hundreds of rare ZIP codes do not read as drift). PSI is reported beside every
test. Beyond Evidently: a distance must also clear the noise floor of the window's size
(`NoiseFloors`), and p-values are Bonferroni-corrected over the inputs tested, so a quiet stream
raises no alarm by chance. The formulas come from scipy; Evidently itself is not a dependency (it pins its own stack).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

SMALL = 1000  # reference rows up to which statistical tests are used
FEW_VALUES = 5  # a numeric feature with this many distinct values or fewer is tested as categorical
RARE = 0.01  # category levels below this share of the reference are compared as one pooled level


def method_for(reference: pd.Series, numeric: bool) -> str:
    """The test Evidently would choose for this feature."""
    categorical = not numeric or reference.nunique(dropna=True) <= FEW_VALUES
    if len(reference) <= SMALL:
        return "chi-square" if categorical else "ks"
    return "jensen-shannon" if categorical else "wasserstein"


def _frequencies(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Level counts of both samples; levels under RARE of the reference (and levels it never had)
    pooled into one, so a field of hundreds of levels is not called drifted for sampling noise
    alone, while a new level with real weight still moves the pooled share."""
    ref_counts = reference.dropna().astype(str).value_counts()
    common = ref_counts.index[ref_counts / max(ref_counts.sum(), 1) >= RARE]

    def pooled(values: pd.Series) -> np.ndarray:
        text = values.dropna().astype(str)
        text = text.where(text.isin(common), "(rare or new)")
        return text.value_counts().reindex([*common, "(rare or new)"], fill_value=0).to_numpy(float)
    ref, cur = pooled(reference), pooled(current)
    keep = (ref + cur) > 0
    return ref[keep], cur[keep]


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    e, a = np.clip(ref / max(ref.sum(), 1), 1e-4, None), np.clip(cur / max(cur.sum(), 1), 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def distance(method: str, ref: pd.Series, cur: pd.Series) -> float:
    """Jensen-Shannon distance of the (pooled) level shares, or the Wasserstein distance in units of
    the reference's standard deviation, both samples clipped to the reference's 1st-99th
    percentiles (a few extreme amounts would otherwise set both the distance and its unit)."""
    if method == "jensen-shannon":
        fr, fc = _frequencies(ref, cur)
        return float(jensenshannon(fr / fr.sum(), fc / fc.sum(), base=2))
    r = ref.to_numpy(float)
    lo, hi = np.quantile(r, [0.01, 0.99])
    r, c = np.clip(r, lo, hi), np.clip(cur.to_numpy(float), lo, hi)
    return float(stats.wasserstein_distance(r, c)) / (float(np.std(r)) or 1.0)


class NoiseFloors:
    """The distance a window reaches by chance alone, per feature and window size.

    Evidently's fixed 0.1 is crossed by sampling noise in windows of a few hundred to a thousand
    rows (heavy-tailed amounts, many-level categories): the reference is split at random `draws`
    times into a window-sized part and the rest; the larger of mean + 5 standard deviations and
    1.2 x the largest of those distances (their tail is skewed), scaled by sqrt(1/n + 1/N) to the
    window's size n, is the floor a drift must clear besides the threshold. Computed once per feature.
    """

    def __init__(self, reference: pd.DataFrame, draws: int = 100, seed: int = 0):
        self.reference, self.draws, self.seed = reference, draws, seed
        self._base: dict[str, tuple[float, int, int]] = {}

    def floor(self, name: str, method: str, n: int) -> float:
        if name not in self._base:
            ref = self.reference[name].dropna().reset_index(drop=True)
            k = max(min(SMALL, len(ref) // 2), 1)
            rng = np.random.default_rng(self.seed)
            found = []
            for _ in range(self.draws):
                order = rng.permutation(len(ref))
                found.append(distance(method, ref.iloc[order[k:]], ref.iloc[order[:k]]))
            self._base[name] = (max(float(np.mean(found) + 5 * np.std(found)), 1.2 * max(found)), k, len(ref) - k)
        base, k, rest = self._base[name]
        big = len(self.reference[name].dropna())
        return base * float(np.sqrt((1 / max(n, 1) + 1 / big) / (1 / k + 1 / max(rest, 1))))


def drift_test(reference: pd.Series, current: pd.Series, numeric: bool, threshold: float = 0.1,
               p_value: float = 0.05, floor: float = 0.0) -> dict:
    """One feature's drift: the method, its statistic, whether it drifted, and PSI beside it. A
    distance must reach both `threshold` and `floor` (the window size's noise, `NoiseFloors`)."""
    method = method_for(reference, numeric)
    ref, cur = reference.dropna(), current.dropna()
    if not len(cur) or not len(ref):
        return {"method": method, "statistic": None, "drifted": False, "psi": None, "note": "no values to compare"}
    if method in ("chi-square", "jensen-shannon"):
        fr, fc = _frequencies(ref, cur)
        psi = _psi(fr, fc)
        if method == "chi-square":  # two samples (the reference is a sample too), not goodness of fit
            p = float(stats.chi2_contingency(np.stack([fr, fc])).pvalue) if len(fr) > 1 else 1.0
            return {"method": method, "statistic": p, "drifted": p < p_value, "psi": psi, "limit": p_value}
    else:
        r, c = ref.to_numpy(float), cur.to_numpy(float)
        edges = np.unique(np.quantile(r, np.linspace(0, 1, 11)[1:-1]))
        psi = _psi(np.bincount(np.searchsorted(edges, r), minlength=len(edges) + 1),
                   np.bincount(np.searchsorted(edges, c), minlength=len(edges) + 1))
        if method == "ks":
            p = float(stats.ks_2samp(r, c).pvalue)
            return {"method": method, "statistic": p, "drifted": p < p_value, "psi": psi, "limit": p_value}
    value, limit = distance(method, ref, cur), max(threshold, floor)
    return {"method": method, "statistic": value, "drifted": value >= limit, "psi": psi, "limit": limit}


def window_drift(reference: pd.DataFrame, current: pd.DataFrame, definitions: dict, threshold: float = 0.1,
                 p_value: float = 0.05, floors: NoiseFloors | None = None) -> pd.DataFrame:
    """Every model input of `current` against `reference`: one row per feature, drifted first.
    p-values are compared with `p_value` divided by the inputs tested (Bonferroni: thirty inputs
    would otherwise raise an alarm by chance in most windows)."""
    names = [f for f in definitions["features"] if f["name"] in current]
    rows = []
    for f in names:
        name, numeric = f["name"], f["kind"] == "numeric"
        test = drift_test(reference[name], current[name], numeric, threshold, p_value / max(len(names), 1))
        if floors is not None and test["drifted"] and test["method"] in ("wasserstein", "jensen-shannon"):
            # the floor costs a hundred distances: only a distance past the threshold needs it
            limit = max(threshold, floors.floor(name, test["method"], int(current[name].notna().sum())))
            test |= {"limit": limit, "drifted": test["statistic"] >= limit}
        rows.append({"feature": name, **test})
    out = pd.DataFrame(rows)
    return out.sort_values(["drifted", "feature"], ascending=[False, True]).reset_index(drop=True)
