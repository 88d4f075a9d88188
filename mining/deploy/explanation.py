"""The right to an explanation (GDPR art. 22, curriculum 8.4): one logged decision, on one page.

`mining explain ID` finds the customer's latest live decision in the inference log (by the id's
pseudonym, as the log stores it), reloads the bundle that made it, and says in words: the score,
the threshold and the decision; the inputs that moved the score most (tree SHAP, the API's own
`/v1/explain`); what would most change it, trying only the inputs a customer or the bank can act
on (`govern.actionable`), one at a time; the model version and when the decision was made.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from mining.catalog import Catalog
from mining.deploy import releases
from mining.deploy.inference_log import TABLE, engine_for
from mining.deploy.scoring import Served
from mining.reports import render


class NoDecision(LookupError):
    """No live decision is logged for the id (or its model's bundle is gone)."""


def find_decision(log_url: str, pseudonym: str) -> dict:
    """The latest live row of the inference log for the pseudonymised id."""
    engine = engine_for(log_url)
    try:
        with engine.connect() as con:
            row = con.execute(sa.select(TABLE).where(TABLE.c.record_id == pseudonym, TABLE.c.route != "shadow")
                              .order_by(TABLE.c.at.desc()).limit(1)).first()
    finally:
        engine.dispose()
    if row is None:
        raise NoDecision("no decision is logged for this id (the log keeps pseudonyms: the same "
                         "deploy.pseudonym_key_env key must be set as when it was scored)")
    return dict(row._mapping)


def bundle_for(root: Path, version: str) -> Path:
    """The bundle folder of `version`: the live one, or its release (fetched from the model registry
    and checked against its registered sha256 when it is no longer on disk)."""
    cat = Catalog(root)
    live = cat["serving"]
    if live.exists() and releases.version_of(live) == version:
        return live
    try:
        return releases.served_dir(root, version)
    except releases.ReleaseError as exc:
        raise NoDecision(f"model {version} made this decision but its bundle is neither served nor in the model "
                         f"registry ({exc}): it cannot be explained with the model that made it") from exc


def candidates(spec: dict, value, points: int = 9) -> list:
    """Values to try for one input: the categories training saw, or points across its range."""
    if "categories" in spec:
        return [c for c in spec["categories"] if c != value]
    lo, hi = spec.get("range", (None, None))
    if lo is None:
        return []
    return [float(v) for v in np.unique(np.linspace(lo, hi, points)) if v != value]


def counterfactuals(served: Served, record: dict, actionable: list[str], top: int = 3) -> list[dict]:
    """Single changes to actionable inputs, the ones that move the score most towards the other side
    of the threshold first; `flips` says whether the change alone would change the decision."""
    base = float(served.outputs([record])[0])
    flagged = base >= served.threshold
    tried = []
    for name in actionable:
        if name not in served.inputs:
            continue
        values = candidates(served.inputs[name], record.get(name))
        if not values:
            continue
        scores = served.outputs([{**record, name: v} for v in values])
        best = int(np.argmin(scores) if flagged else np.argmax(scores))
        tried.append({"input": name, "from": record.get(name), "to": values[best], "score": float(scores[best]),
                      "change": float(scores[best] - base),
                      "flips": bool((scores[best] >= served.threshold) != flagged)})
    tried.sort(key=lambda t: t["change"] if flagged else -t["change"])
    return tried[:top]


def explain_decision(root: Path, log_url: str, pseudonym: str, actionable: list[str], top: int = 5) -> dict:
    """Everything the one-page explanation says about the latest decision for the pseudonymised id."""
    row = find_decision(log_url, pseudonym)
    served = Served(bundle_for(root, row["model_version"]))
    record = json.loads(row["features"])
    reasons = served.explain(record, top)
    return {"pseudonym": pseudonym, "decided_at": row["at"], "model_version": row["model_version"],
            "model_type": served.info["model_type"], "score": row["score"], "threshold": served.threshold,
            "decision": row["decision"], "app": row["app"], "purpose": row["purpose"],
            "explained": reasons["explained"], "reasons": reasons["reasons"],
            "counterfactuals": counterfactuals(served, record, actionable), "record": record}


def write_page(root: Path, explanation: dict) -> Path:
    """The explanation as one self-contained HTML page under reports/explanations/."""
    cat = Catalog(root)
    return render("explanation.html.j2", cat["explanations"] / f"{explanation['pseudonym']}.html", e=explanation)
