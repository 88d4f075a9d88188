"""The review state a model reaches after the automatic checks, and the governance record on disk."""

from __future__ import annotations

import pandas as pd

from mining import atomic
from mining.catalog import Catalog
from mining.gates import failed
from mining.params import Params
from mining.reports import read_json, write_json

READY, BLOCKED = "ready for review board", "blocked"


def approval_decision(gates: list[dict], dpia: dict, reviewers: list[str], model_version: str) -> dict:
    """Ready for the review board only when every fairness gate passed and the data-protection
    record has no open finding; blocked otherwise, naming what blocks it. The record names the model
    version it judged: deploy serves that version only."""
    broken = failed(gates)
    passed = not broken and not dpia["open_findings"]
    return {"status": READY if passed else BLOCKED, "model_version": model_version, "reviewers": list(reviewers),
            "automatic_checks_passed": passed, "failed_gates": broken, "open_findings": list(dpia["open_findings"])}


def write_record(params: Params, audit: pd.DataFrame, dpia: dict, fields: pd.DataFrame, approval: dict,
                 gates: list[dict]) -> None:
    cat = Catalog(params.root)
    cat["governance"].mkdir(parents=True, exist_ok=True)
    atomic.save(cat["bias_audit"], lambda p: audit.to_csv(p, index=False))
    write_json(cat["dpia"], {**dpia, "fields": fields.to_dict("records")})
    write_json(cat["approval"], {**approval, "gates": gates})


def load_approval(params: Params) -> dict:
    return read_json(Catalog(params.root)["approval"])


def load_bias_audit(params: Params) -> pd.DataFrame:
    return pd.read_csv(Catalog(params.root)["bias_audit"])
