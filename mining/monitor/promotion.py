"""The promotion rule: a challenger scored in shadow becomes champion only when it beats the
champion on the same live records, once their outcomes are in, and breaks no fairness gate.

The comparison is paired: each shadow score is matched with the champion's answer to the same
request and record, so both models are judged on exactly the same customers and outcomes.
"""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import roc_auc_score

PROMOTE, REJECT, WAIT = "promote", "reject", "wait"
FAIRNESS_WORDS = ("parity", "odds", "fairness", "disparity", "group")


def shadow_pairs(scored: pd.DataFrame, champion: str, challenger: str) -> pd.DataFrame:
    """Per record both models scored: champion_score, challenger_score, target (NaN until known)."""
    key = ["request_id", "features_sha256"]
    live = scored[(scored["model_version"] == champion) & (scored["route"] != "shadow")]
    shadow = scored[(scored["model_version"] == challenger) & (scored["route"] == "shadow")]
    pairs = live[key + ["at", "score", "target"]].drop_duplicates(key).merge(
        shadow[key + ["score"]].drop_duplicates(key), on=key, suffixes=("_champion", "_challenger"))
    return pairs.rename(columns={"score_champion": "champion_score", "score_challenger": "challenger_score"})


def fairness_failures(gates: list[dict]) -> list[str]:
    """The challenger's fairness gates (from its evaluation, carried in its bundle) that failed."""
    return [g["gate"] for g in gates if not g["passed"] and any(w in g["gate"].lower() for w in FAIRNESS_WORDS)]


def promotion_decision(pairs: pd.DataFrame, challenger_gates: list[dict], rule: dict) -> dict:
    """promote / reject / wait, with the figures and the reason (each naming its params key)."""
    known = pairs[pairs["target"].notna()]
    out = {"shadow_records": len(pairs), "labelled": len(known), "champion_roc_auc": None, "challenger_roc_auc": None}
    failed = fairness_failures(challenger_gates)
    if failed:
        return out | {"decision": REJECT, "reason": f"the challenger fails its fairness gates {failed}"}
    if len(known) < rule["min_labelled"] or known["target"].nunique() < 2:
        return out | {"decision": WAIT, "reason": f"{len(known)} shadow records have an outcome; "
                                                  f"monitor.promotion.min_labelled={rule['min_labelled']} needed (both classes)"}
    y = known["target"].astype(int)
    champion, challenger = roc_auc_score(y, known["champion_score"]), roc_auc_score(y, known["challenger_score"])
    out |= {"champion_roc_auc": float(champion), "challenger_roc_auc": float(challenger)}
    gain = challenger - champion
    if gain >= rule["margin"]:
        return out | {"decision": PROMOTE, "reason": f"on {len(known):,} labelled shadow records the challenger's ROC AUC "
                      f"{challenger:.4f} beats the champion's {champion:.4f} by {gain:+.4f} "
                      f">= monitor.promotion.margin={rule['margin']}; no fairness gate broken"}
    return out | {"decision": REJECT, "reason": f"on {len(known):,} labelled shadow records the challenger's ROC AUC "
                  f"{challenger:.4f} against the champion's {champion:.4f} ({gain:+.4f}) falls short of "
                  f"monitor.promotion.margin={rule['margin']}"}
