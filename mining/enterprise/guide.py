"""`reports/guide.html`: how to read these scores, one page for business users, in this run's figures.

Every number on it comes from the model card and the run's output (nothing typed by hand), so the
page says what this model version does, not what a model of this kind usually does.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mining.charter import SEGMENTATION
from mining.reports import render


def in_100(rate: float) -> str:
    return f"{round(rate * 100):.0f}"


def classification_points(card: dict, output: pd.DataFrame) -> dict:
    m, t = card["metrics"], card["threshold"]
    flagged = int(output["flagged"].sum())
    lo, hi = m["precision_ci"]
    return {
        "score": (f"A score is the model's estimate of the chance that it happens to that customer. Among customers "
                  f"scored about 0.30, about 30 in 100 went on to do it: on the holdout, scores were off by "
                  f"{m['ece']:.1%} on average (expected calibration error)."),
        "flag": (f"A customer is flagged when the score is at least {t['threshold']:.3f}. This run flagged "
                 f"{flagged:,} of {len(output):,} customers ({flagged / len(output):.1%})."),
        "quality": (f"Of every 100 customers flagged, about {in_100(m['precision'])} really do it (between "
                    f"{in_100(lo)} and {in_100(hi)}, 95 % interval); of every 100 who do, the flags catch about "
                    f"{in_100(m['recall'])}. The rest are missed: a customer not flagged is not a safe customer."),
        "ranking": (f"The scores rank customers well (ROC AUC {m['roc_auc']:.2f}: a customer who did it scores higher "
                    f"than one who did not {m['roc_auc']:.0%} of the time): call the highest scores first."),
        "value": (f"Calling the flagged customers is worth about {card['business']['value_at_operating_threshold']:,.0f} "
                  "on the holdout under params/evaluate.yaml business (simulated, not yet measured in a real test)."
                  if card.get("business") else None),
        "use_for": "deciding whom to act on first, in the order of the scores, by the people who own that decision",
    }


def segmentation_points(card: dict, output: pd.DataFrame) -> dict:
    shares = output["segment_name"].fillna(output["segment"].astype(str)).value_counts(normalize=True)
    return {"score": ("Each customer is placed in one segment: a group of customers alike in the inputs. A segment "
                      "describes, it does not predict."),
            "flag": "Segments this run: " + "; ".join(f"{name} ({share:.0%})" for name, share in shares.items()) + ".",
            "quality": None, "ranking": None, "value": None,
            "use_for": "describing customer groups and choosing how to address each group"}


def write_guide(path: Path, card: dict, output: pd.DataFrame, task: str, *, name: str, version: str,
                scored_at: str, sensitive: list[str], monitor_note: str) -> Path:
    """The page, from the card (metrics, threshold, drivers, intended use, limitations) and the output."""
    points = segmentation_points(card, output) if task == SEGMENTATION else classification_points(card, output)
    use = card["intended_use"]
    out_of_scope = use["out_of_scope"] if isinstance(use["out_of_scope"], list) else [use["out_of_scope"]]
    drivers = [f["feature"] for f in card.get("top_features", [])[:5]]
    return render("guide.html.j2", path, name=name, problem=use["problem"], owner=use["decision_owner"],
                  consumer=use["consumer"], version=version, scored_at=scored_at, points=points, drivers=drivers,
                  sensitive=sensitive, out_of_scope=out_of_scope,
                  limitations=card["limitations"], monitor_note=monitor_note)
