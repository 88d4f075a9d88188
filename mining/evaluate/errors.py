"""Error analysis: where on the holdout the model fails, described in the inputs' own terms.

The misclassified holdout rows are clustered (k-means on standardised inputs, k by silhouette);
each cluster is then told apart from the correctly classified rows by a shallow decision tree,
whose purest leaf is the cluster's rule ("contract = Month-to-month and tenure <= 7.5"). The
rule is applied to the whole holdout to give the segment's size and error rate, so a reviewer
reads "this kind of customer, this many of them, wrong this often", not a centroid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.tree import DecisionTreeClassifier

TOP_LEVELS = 12
SEP = " = "


def readable_design(frame: pd.DataFrame, definitions: dict) -> pd.DataFrame:
    """Numbers as they are (missing as the median) and the frequent levels of each categorical as
    0/1 columns named "column = level": what a rule can be written in."""
    cols = {}
    for f in definitions["features"]:
        x = frame[f["name"]]
        if f["kind"] == "numeric":
            x = pd.to_numeric(x, errors="coerce").astype(float)
            cols[f["name"]] = x.fillna(x.median() if x.notna().any() else 0.0)
        else:
            text = x.astype("string").fillna("missing")
            for level in text.value_counts().index[:TOP_LEVELS]:
                cols[f"{f['name']}{SEP}{level}"] = (text == level).astype(float)
    return pd.DataFrame(cols, index=frame.index)


Condition = tuple[str, str, float]  # (design column, "<=" | ">", cut)


def _path(tree: DecisionTreeClassifier, names: list[str], leaf: int) -> list[Condition]:
    """The tests on the path from the root to `leaf`; repeated tests of one column keep the tightest."""
    t = tree.tree_
    parent = {c: (n, c == t.children_left[n]) for n in range(t.node_count)
              for c in (t.children_left[n], t.children_right[n]) if c != -1}
    tight: dict[tuple[str, str], float] = {}
    node = leaf
    while node in parent:
        node, left = parent[node]
        key, cut = (names[t.feature[node]], "<=" if left else ">"), float(t.threshold[node])
        tight[key] = min(cut, tight.get(key, cut)) if left else max(cut, tight.get(key, cut))
    return [(name, op, cut) for (name, op), cut in tight.items()]


def _mask(D: pd.DataFrame, conds: list[Condition]) -> np.ndarray:
    m = np.ones(len(D), dtype=bool)
    for name, op, cut in conds:
        m &= (D[name] <= cut).to_numpy() if op == "<=" else (D[name] > cut).to_numpy()
    return m


def _words(cond: Condition) -> str:
    name, op, cut = cond
    if SEP in name and 0 < cut < 1:
        col, level = name.split(SEP, 1)
        return f"{col} {'!=' if op == '<=' else '='} {level}"
    return f"{name} {op} {cut:.4g}"


def _simplest(D: pd.DataFrame, conds: list[Condition], wrong: np.ndarray, min_size: int) -> list[Condition]:
    """Drop the tests that do not sharpen the rule: one goes when the rule without it keeps at
    least 95 % of the error rate (and its size stays above `min_size`)."""
    def rate(c: list[Condition]) -> float:
        m = _mask(D, c)
        return wrong[m].mean() if m.sum() >= min_size else -1.0

    conds = list(conds)
    for cond in sorted(conds, key=lambda c: SEP in c[0]):  # try numeric cuts first
        rest = [c for c in conds if c != cond]
        if rest and rate(rest) >= 0.95 * rate(conds):
            conds = rest
    return conds


def _rule(D: pd.DataFrame, members: np.ndarray, wrong: np.ndarray, min_leaf: int, seed: int) -> list[Condition]:
    """The conditions of the leaf that best isolates the cluster `members` from the correctly
    classified rows, simplified."""
    correct = ~wrong
    rows = np.concatenate([np.flatnonzero(members), np.flatnonzero(correct)])
    label = np.concatenate([np.ones(members.sum()), np.zeros(correct.sum())])
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=min_leaf, class_weight="balanced",
                                  random_state=seed).fit(D.iloc[rows], label)
    leaves = tree.apply(D.iloc[rows])
    best, best_score = None, -1.0
    for leaf in np.unique(leaves):
        m = leaves == leaf
        covered = label[m].sum() / label.sum()  # share of the cluster the leaf holds
        if covered >= 0.25 and label[m].mean() * covered > best_score:
            best, best_score = leaf, label[m].mean() * covered
    return [] if best is None else _simplest(D, _path(tree, list(D.columns), best), wrong, 2 * min_leaf)


def _differences(D: pd.DataFrame, members: np.ndarray, correct: np.ndarray, top: int = 3) -> list[str]:
    """The inputs whose means differ most (in pooled standard deviations) between the cluster and
    the correctly classified rows."""
    sd = D.std().replace(0, np.nan)
    diff = ((D[members].mean() - D[correct].mean()) / sd).dropna()
    out = []
    for name in diff.abs().sort_values(ascending=False).index[:top]:
        a, b = D.loc[members, name].mean(), D.loc[correct, name].mean()
        out.append(f"{name}: {a:.1%} vs {b:.1%}" if SEP in name else f"{name}: mean {a:.4g} vs {b:.4g}")
    return out


def error_clusters(frame: pd.DataFrame, definitions: dict, y: np.ndarray, pred: np.ndarray, *,
                   max_clusters: int = 6, min_size: int = 30, seed: int = 0) -> list[dict]:
    """The error segments of a holdout, worst first: each with `size` (holdout rows its rule
    covers), `errors`, `error_rate`, `lift` over the overall error rate, false-positive share,
    `description` (rule and top differences) and `rule` (its conditions)."""
    y, pred = np.asarray(y), np.asarray(pred)
    wrong = y != pred
    if wrong.sum() < 2 * min_size or (~wrong).sum() < min_size:
        return []
    D = readable_design(frame.reset_index(drop=True), definitions)
    Z = ((D - D.mean()) / D.std().replace(0, 1)).to_numpy()[wrong]
    sample = np.random.default_rng(seed).choice(len(Z), size=min(len(Z), 3000), replace=False)
    best_s, labels = -1.0, None
    for k in range(2, min(max_clusters, len(Z) // min_size) + 1):
        km = KMeans(k, n_init=4, random_state=seed).fit(Z)
        s = silhouette_score(Z[sample], km.labels_[sample])
        if s > best_s:
            best_s, labels = s, km.labels_
    if labels is None:
        labels = np.zeros(len(Z), dtype=int)
    overall = float(wrong.mean())
    out = []
    for c in np.unique(labels):
        members = np.zeros(len(D), dtype=bool)
        members[np.flatnonzero(wrong)[labels == c]] = True
        conds = _rule(D, members, wrong, max(min_size // 2, 5), seed)
        covered = _mask(D, conds)
        if not conds or covered.sum() < min_size:
            continue
        rate = float(wrong[covered].mean())
        fp = float((wrong & covered & (pred == 1)).sum() / max((wrong & covered).sum(), 1))
        diffs = _differences(D, members, ~wrong)
        out.append({"cluster": int(c), "size": int(covered.sum()), "errors": int((wrong & covered).sum()),
                    "error_rate": rate, "lift": rate / overall if overall else float("nan"),
                    "false_positive_share": fp, "_covered": covered, "rule": [_words(c) for c in conds],
                    "description": " and ".join(_words(c) for c in conds) + f" ({covered.sum():,} rows, {rate:.0%} wrong vs "
                                   f"{overall:.0%} overall; differs in {'; '.join(diffs)})"})
    kept: list[dict] = []
    for d in sorted(out, key=lambda d: -d["error_rate"]):  # one segment per place: overlaps go
        if all(_overlap(d["_covered"], k["_covered"]) < 0.6 for k in kept):
            kept.append(d)
    return [{k: v for k, v in d.items() if k != "_covered"} for d in kept]


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))
