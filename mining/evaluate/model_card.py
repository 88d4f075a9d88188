"""The model card: what the model is for, how well it does, for whom, and where it fails."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mining.catalog import Catalog
from mining.charter import SEGMENTATION
from mining.reports import html_table, render, write_json


def limitations(charter: dict, metrics: dict, fairness: dict, defs: dict) -> list[str]:
    """Known limits, derived from the measurements rather than written once and forgotten."""
    out = []
    kpis = charter["kpis"]
    if metrics["precision"] < kpis["min_precision"]:
        out.append(f"Holdout precision {metrics['precision']:.2f} is below the charter floor {kpis['min_precision']}.")
    out.append(f"At the operating threshold the model flags {metrics['flagged_rate']:.1%} of customers and "
               f"finds {metrics['recall']:.0%} of those who leave; the rest are missed.")
    for feat, s in fairness.items():
        out.append(f"By {feat}: equalized-odds difference {s['equalized_odds_difference']:.3f}, "
                   f"demographic-parity difference {s['demographic_parity_difference']:.3f}.")
    if defs.get("cutoff"):
        out.append(f"Behavioural features are computed as of {defs['cutoff']}; scoring later windows needs "
                   "features recomputed at the new cut-off, and drift is watched by stage 07.")
    out.append("Trained on one source population; customers unlike it (new products, regions, channels) "
               "may be scored less reliably.")
    return out


def build_card(charter: dict, meta: dict, defs: dict, metrics: dict, threshold: dict, fairness: dict,
               gates: list[dict], importance: pd.DataFrame, *, holdout_rows: int, sensitive_used: bool) -> dict:
    """The card's content as data (also written as JSON for registries and audits)."""
    return {
        "name": charter["name"],
        "model": {"type": meta["model"], "version": meta["model_sha256"][:12], "trained_at": meta["trained_at"],
                  "code": meta["code"], "params": meta["params"], "cv_scheme": meta["cv_scheme"]},
        "intended_use": {"problem": charter["problem"], "decision_owner": charter["decision_owner"],
                         "consumer": charter["output"]["consumer"],
                         "out_of_scope": "automated decisions without human review; populations unlike the "
                                         "training source"},
        "data": {"source": charter["source"], "train_rows": meta["train_rows"], "holdout_rows": holdout_rows,
                 "holdout": "latest time window" if defs["roles"]["time"] else "seeded stratified sample",
                 "positive_rate": metrics["positive_rate"], "n_features": len(defs["features"]),
                 "sensitive": charter["sensitive_features"], "sensitive_used": sensitive_used},
        "metrics": metrics, "threshold": {**threshold, "min_precision": charter["kpis"]["min_precision"]},
        "fairness": fairness, "gates": gates, "top_features": importance.head(10).to_dict("records"),
        "limitations": limitations(charter, metrics, fairness, defs),
    }


def build_segment_card(charter: dict, meta: dict, defs: dict, metrics: dict, profile: pd.DataFrame,
                       composition_gaps: dict, gates: list[dict]) -> dict:
    """The card of the segmentation path: what the segments are, how stable, who is in them."""
    limits = [f"Segments are descriptive: {metrics['k']} groups chosen by silhouette "
              f"({metrics['silhouette']:.3f} on held-out customers); they do not predict behaviour.",
              "High-cardinality categoricals are not used for the distances."]
    limits += [f"By {f}: segment shares differ between groups by up to {g:.3f}." for f, g in composition_gaps.items()]
    return {
        "name": charter["name"], "task": SEGMENTATION,
        "model": {"type": meta["model"], "version": meta["model_sha256"][:12], "trained_at": meta["trained_at"],
                  "code": meta["code"], "params": meta["params"]},
        "intended_use": {"problem": charter["problem"], "decision_owner": charter["decision_owner"],
                         "consumer": charter["output"]["consumer"],
                         "out_of_scope": "decisions about individuals based on their segment alone"},
        "data": {"source": charter["source"], "train_rows": meta["train_rows"], "holdout_rows": metrics["holdout_rows"],
                 "n_features": len(defs["features"]), "sensitive": charter["sensitive_features"]},
        "metrics": metrics, "segments": profile.to_dict("records"), "composition_gaps": composition_gaps,
        "gates": gates, "limitations": limits,
    }


def write_card(root: Path, card: dict, figures: dict[str, str], tables: dict[str, pd.DataFrame],
               template: str = "model_card.html.j2") -> Path:
    """The card as JSON (catalog `model_card_json`) and as a self-contained page (`model_card`)."""
    cat = Catalog(root)
    write_json(cat["model_card_json"], card)
    return render(template, cat["model_card"], card=card, figures=figures,
                  tables={k: html_table(v) for k, v in tables.items()})
