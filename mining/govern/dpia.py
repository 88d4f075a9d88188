"""The data-protection record: which personal fields are processed, why, and whether that matches use."""

from __future__ import annotations

import pandas as pd

from mining.gates import gate


def personal_data_record(declared: dict[str, dict], sensitive: list[str], model_inputs: list[str],
                         present: list[str]) -> pd.DataFrame:
    """One row per personal field; `finding` flags a field used other than as declared."""
    rows = []
    names = list(dict.fromkeys([*declared, *sensitive]))
    for name in names:
        d = declared.get(name, {})
        used = name in model_inputs
        if name not in present:
            finding = "not in this dataset"
        elif not d:
            finding = "UNDECLARED: sensitive feature without a purpose in params/govern.yaml"
        elif bool(d.get("model_input")) != used:
            finding = f"MISMATCH: declared model_input={d.get('model_input')}, actually {'used' if used else 'not used'}"
        else:
            finding = "as declared"
        rows.append({"field": name, "category": d.get("category", "sensitive attribute"),
                     "purpose": d.get("purpose", ""), "model_input": used, "sensitive": name in sensitive,
                     "finding": finding})
    return pd.DataFrame(rows)


def dpia_record(charter: dict, fields: pd.DataFrame, govern: dict) -> dict:
    """A DPIA summary: needed when personal data feed a profiling model (GDPR art. 35)."""
    personal_inputs = fields.loc[fields["model_input"], "field"].tolist()
    return {
        "processing": charter["problem"],
        "dpia_required": bool(personal_inputs) or bool(charter["sensitive_features"]),
        "reason": "profiling of customers with personal data to prioritise contact (GDPR art. 35(3)(a) screening)",
        "personal_inputs": personal_inputs,
        "audit_only_fields": fields.loc[~fields["model_input"] & (fields["finding"] != "not in this dataset"), "field"].tolist(),
        "lawful_basis": [a["basis"] for a in charter["data_access"]],
        "retention": govern.get("retention"),
        "mitigations": ["sensitive attributes excluded from model inputs; used only to audit bias",
                        "pseudonymous customer ids in scores exported to the CRM",
                        "human review of flagged customers before any action"],
        "open_findings": fields.loc[fields["finding"].str.startswith(("UNDECLARED", "MISMATCH")), "field"].tolist(),
    }


def dpia_gate(dpia: dict) -> dict:
    """The record must hold no open finding (a personal field undeclared, or used other than
    declared): a model processing personal data that way is not approved, so not served."""
    found = dpia["open_findings"]
    return gate("personal fields used other than declared", len(found), "<=", 0,
                f"params/govern.yaml personal_data: {found}" if found else "params/govern.yaml personal_data")
