"""The model card: what the model is for, how well it does, for whom, and where it fails.

Written three ways: JSON (validated against `model_card_schema_v1.json`, for registries and audits),
Markdown (the Hugging Face card layout, for a model hub or a repository) and a self-contained
HTML page for reviewers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mining.catalog import Catalog
from mining.charter import SEGMENTATION
from mining.reports import json_safe, html_table, render, render_text, write_json


SCHEMA = Path(__file__).with_name("model_card_schema_v1.json")


class CardInvalid(ValueError):
    """The card's JSON does not match its schema: the field and what was expected."""


def limitations(charter: dict, metrics: dict, operating: dict, fairness: dict, clusters: list[dict],
                robustness: dict, defs: dict) -> list[str]:
    """Known limits, derived from this model's measurements: the error clusters first (for whom it
    fails), then the operating point, fairness and robustness figures, then the data's reach."""
    out = [f"Fails more often for {c['description']}." for c in clusters]
    if operating["verdict"] == "no-go":
        out.append(f"No usable operating point: {operating['reason']}.")
    kpis = charter["kpis"]
    if kpis["min_precision"] is not None and metrics["precision"] < kpis["min_precision"]:
        out.append(f"Holdout precision {metrics['precision']:.2f} (95% CI {_ci(metrics['precision_ci'])}) is below "
                   f"the charter floor {kpis['min_precision']}.")
    out.append(f"At the operating threshold the model flags {metrics['flagged_rate']:.1%} of customers and "
               f"finds {metrics['recall']:.0%} (95% CI {_ci(metrics['recall_ci'])}) of those who leave; the rest are missed.")
    for feat, s in fairness.items():
        out.append(f"By {feat}: equalized-odds difference {s['equalized_odds_difference']:.3f} "
                   f"(95% CI {_ci(s['equalized_odds_difference_ci'])}), selection-rate ratio to "
                   f"{s['reference_group']} {s['four_fifths']['min']:.2f}-{s['four_fifths']['max']:.2f}"
                   + ("" if s["four_fifths"]["passed"] else " (outside the four-fifths range 0.8-1.25)") + ".")
    if robustness.get("noise_drop_at") is not None:
        out.append(f"Gaussian noise of {robustness['gate_level']:.0%} of each input's spread costs "
                   f"{robustness['noise_drop_at']:.3f} ROC AUC and flips {robustness['flip_rate_at']:.1%} of decisions.")
    if defs.get("cutoff"):
        out.append(f"Behavioural features are computed as of {defs['cutoff']}; scoring later windows needs "
                   "features recomputed at the new cut-off, and drift is watched by stage 07.")
    out.append("Trained on one source population; customers unlike it (new products, regions, channels) "
               "may be scored less reliably.")
    return out


def _ci(pair) -> str:
    return "n/a" if not pair or pair[0] is None else f"{pair[0]:.3f}-{pair[1]:.3f}"


def build_card(charter: dict, meta: dict, defs: dict, *, metrics: dict, operating: dict, calibration: dict,
               fairness: dict, mitigation: dict, clusters: list[dict], robustness: dict, business: dict,
               backtest: list[dict] | None, value_case: dict, gates: list[dict], importance: pd.DataFrame,
               slices: dict[str, pd.DataFrame], holdout_rows: int, sensitive_used: bool, governance: dict) -> dict:
    """The card's content as data: the union of the Model Card Toolkit's and Hugging Face's fields
    (details, intended use, factors, data, metrics, evaluation data, quantitative analyses,
    ethical considerations, caveats, training details) plus this project's evaluation parts."""
    limits = limitations(charter, metrics, operating, fairness, clusters, robustness, defs)
    return {
        "schema_version": 1, "name": charter["name"], "task": "classification",
        "model": {"type": meta["model"], "version": meta["model_sha256"][:12], "trained_at": meta["trained_at"],
                  "code": meta["code"], "params": meta["params"], "cv_scheme": meta["cv_scheme"],
                  "owners": [charter["decision_owner"]], "shipped": calibration["ships"]},
        "intended_use": {"problem": charter["problem"], "decision_owner": charter["decision_owner"],
                         "consumer": charter["output"]["consumer"],
                         "out_of_scope": ["automated decisions without human review",
                                          "populations unlike the training source",
                                          "decisions about individuals from the sensitive attributes"]},
        "factors": {"sensitive": charter["sensitive_features"], "sensitive_used": sensitive_used,
                    "evaluated_slices": sorted(slices), "error_segments": [c["description"] for c in clusters]},
        "data": {"source": charter["source"], "train_rows": meta["train_rows"], "holdout_rows": holdout_rows,
                 "holdout": "latest time window" if defs["roles"]["time"] else "seeded stratified sample",
                 "positive_rate": metrics["positive_rate"], "n_features": len(defs["features"]),
                 "sensitive": charter["sensitive_features"], "sensitive_used": sensitive_used},
        "metrics": metrics, "threshold": {**operating, "min_precision": charter["kpis"]["min_precision"]},
        "calibration": calibration, "fairness": fairness, "mitigation": mitigation,
        "quantitative_analyses": {"by_slice": {k: v.to_dict("records") for k, v in slices.items()},
                                  "backtest": backtest},
        "error_clusters": clusters, "robustness": robustness, "business": business, "value_case": value_case,
        "training": {"train_rows": meta["train_rows"], "cv_scheme": meta["cv_scheme"], "params": meta["params"],
                     "pruned_inputs": meta.get("pruned", []), "interaction_pairs": meta.get("interaction_pairs", [])},
        "gates": gates, "top_features": importance.head(10).to_dict("records"),
        "ethical_considerations": [
            {"risk": "unequal error rates between groups", "mitigation": mitigation.get("why", "")},
            {"risk": "sensitive attributes", "mitigation": "used only to audit" if not sensitive_used
             else "used as model inputs: see the governance record"},
            {"risk": "personal data", "mitigation": f"data-protection record: {governance['record']}"}],
        "governance": governance,
        "limitations": limits,
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


def validate(card: dict) -> None:
    """Refuse a classifier card that does not match model_card_schema_v1.json, naming the field."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(card), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise CardInvalid(f"model card field {'/'.join(map(str, e.path)) or '(top)'}: {e.message} "
                          f"({len(errors)} problem(s); schema {SCHEMA.name})")


def write_card(root: Path, card: dict, figures: dict[str, str], tables: dict[str, pd.DataFrame],
               template: str = "model_card.html.j2") -> Path:
    """The card as JSON (catalog `model_card_json`, validated for a classifier), as Markdown
    (`model_card_md`) and as a self-contained page (`model_card`)."""
    cat = Catalog(root)
    clean = json.loads(json.dumps(json_safe(card), default=str))
    if clean.get("task") == "classification":
        validate(clean)
    write_json(cat["model_card_json"], clean)
    render_text("model_card.md.j2", cat["model_card_md"], card=clean)
    return render(template, cat["model_card"], card=clean, figures=figures,
                  tables={k: html_table(v) for k, v in tables.items()})
