"""The model card: what the model is for, how well it does, for whom, and where it fails."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mining.reports import render, write_json

EVAL_DIR = "models/evaluation"
CARD_HTML = Path("reports/model_card.html")


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


def write_card(root: Path, card: dict, figures: dict[str, str], tables: dict[str, pd.DataFrame]) -> Path:
    """`models/evaluation/model_card.json` and the self-contained `reports/model_card.html`."""
    write_json(root / EVAL_DIR / "model_card.json", card)
    html_tables = {k: v.to_html(index=False, float_format=lambda x: f"{x:.3f}", classes="t", border=0)
                   for k, v in tables.items()}
    return render("model_card.html.j2", root / CARD_HTML, card=card, figures=figures, tables=html_tables)
