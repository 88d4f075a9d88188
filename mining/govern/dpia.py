"""The data-protection record (DPIA), built from facts: the personal columns actually ingested
(declared or detected, `mining.govern.personal`), what the model uses, and the measures the
configuration really applies.

A mitigation is a named measure with a check against params (is pseudonymisation on for the id?
is the quarantine encrypted? is a sensitive attribute a model input?). The record shows each as
met or not met; a measure claimed in params/govern.yaml `mitigations` that the configuration does
not apply fails the stage, so the record never states what the pipeline does not do.
Organisational measures (a person reviews each flagged customer) cannot be checked here and are
shown as declared.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mining.gates import gate
from mining.govern.personal import detect

MET, NOT_MET, DECLARED = "met", "not met", "declared (organisational: not checkable here)"


@dataclass(frozen=True)
class Facts:
    """What the checks read: params of every stage, the charter, the model's inputs, the personal columns."""
    params: dict
    charter: dict
    model_inputs: list[str]
    personal: pd.DataFrame  # mining.govern.personal.detect

    @property
    def id_column(self) -> str | None:
        return self.params["data"]["id_column"]


def _sensitive_not_inputs(f: Facts) -> tuple[str, str]:
    used = [c for c in f.charter["sensitive_features"] if c in f.model_inputs]
    special = f.personal.loc[f.personal["category"].str.startswith("special"), "field"]
    used += [c for c in special if c in f.model_inputs and c not in used]
    return (NOT_MET, f"model inputs include {used}") if used else (MET, "features.use_sensitive is false and no "
                                                                        "special-category column is a model input")


def _pseudonymous_ids(f: Facts) -> tuple[str, str]:
    cols = f.params["ingest"]["pseudonymise"]["columns"]
    if not f.id_column:
        return MET, "the data has no id column"
    return (MET, f"ingest.pseudonymise.columns holds {f.id_column}") if f.id_column in cols else \
        (NOT_MET, f"ingest.pseudonymise.columns does not hold {f.id_column}: ids leave ingest (and reach the "
                  "exported scores) as they came")


def _encrypted(key: str):
    def check(f: Facts) -> tuple[str, str]:
        on = bool(f.params["ingest"]["encryption"][key])
        return (MET if on else NOT_MET), f"ingest.encryption.{key}: {str(on).lower()}"
    return check


def _bias_gate(f: Facts) -> tuple[str, str]:
    limit = f.charter["kpis"]["max_equalized_odds_difference"]
    return (MET, f"kpis.max_equalized_odds_difference {limit} gates govern") if limit is not None else \
        (NOT_MET, "kpis.max_equalized_odds_difference is null: group error rates are reported, not gated")


def _log_retention(f: Facts) -> tuple[str, str]:
    days = f.params["monitor"]["retention"]["log_days"]
    return (MET, f"monitor.retention.log_days {days}: older inference-log rows rotated out") if days else \
        (NOT_MET, "monitor.retention.log_days is not set")


def _declared(f: Facts) -> tuple[str, str]:
    return DECLARED, "params/govern.yaml mitigations"


MEASURES = {  # name: (what it promises, check)
    "sensitive_not_inputs": ("sensitive and special-category attributes are not model inputs", _sensitive_not_inputs),
    "pseudonymous_ids": ("customer ids are pseudonymised at ingest, so exported scores carry pseudonyms",
                         _pseudonymous_ids),
    "quarantine_encrypted": ("rejected raw records (the quarantine) are encrypted at rest", _encrypted("quarantine")),
    "tables_encrypted": ("the validated tables are encrypted at rest", _encrypted("tables")),
    "bias_gate": ("unequal error rates between groups stop the pipeline", _bias_gate),
    "log_retention": ("inference-log rows are rotated out after a set number of days", _log_retention),
    "human_review": ("a person reviews each flagged customer before any action", _declared),
}
RISKS = [  # (risk, likelihood 1-3, impact 1-3, measures that lower it)
    ("discrimination through sensitive attributes", 2, 3, ["sensitive_not_inputs", "bias_gate"]),
    ("re-identification of customers from exported scores", 2, 2, ["pseudonymous_ids"]),
    ("exposure of raw personal data at rest", 2, 3, ["quarantine_encrypted", "tables_encrypted"]),
    ("keeping personal data longer than needed", 2, 2, ["log_retention"]),
    ("an automated decision with no human in the loop", 2, 2, ["human_review"]),
]


def mitigations(facts: Facts, claimed: list[str]) -> pd.DataFrame:
    """Every known measure, checked: measure, promise, status, evidence, claimed."""
    unknown = [c for c in claimed if c not in MEASURES]
    if unknown:
        raise ValueError(f"params/govern.yaml mitigations: unknown {unknown}; known: {sorted(MEASURES)}")
    rows = []
    for name, (promise, check) in MEASURES.items():
        status, evidence = check(facts)
        rows.append({"measure": name, "promise": promise, "status": status, "evidence": evidence,
                     "claimed": name in claimed})
    return pd.DataFrame(rows)


def risks(measures: pd.DataFrame) -> pd.DataFrame:
    """Each risk scored likelihood x impact before and after the measures that are met (each met
    measure lowers the likelihood by one, to at least 1); a declared measure lowers nothing."""
    status = dict(zip(measures["measure"], measures["status"]))
    rows = []
    for risk, likelihood, impact, by in RISKS:
        residual = max(1, likelihood - sum(status.get(m) == MET for m in by))
        score = residual * impact
        rows.append({"risk": risk, "likelihood": likelihood, "impact": impact, "inherent": likelihood * impact,
                     "measures": ", ".join(f"{m} ({status.get(m, NOT_MET).split(' (')[0]})" for m in by),
                     "residual": score, "level": "high" if score >= 6 else "medium" if score >= 3 else "low"})
    return pd.DataFrame(rows)


def claims_gate(measures: pd.DataFrame) -> dict:
    """A measure claimed in params that the configuration does not apply fails the stage."""
    false = measures[measures["claimed"] & (measures["status"] == NOT_MET)]
    where = "; ".join(f"{r.measure}: {r.evidence}" for r in false.itertuples()) or "params/govern.yaml mitigations"
    return gate("mitigations claimed that the configuration does not apply", len(false), "<=", 0, where)


def personal_data_record(frame: pd.DataFrame, declared: dict[str, dict], sensitive: list[str],
                         model_inputs: list[str]) -> pd.DataFrame:
    """The personal columns of the ingested data (`detect`), each with its use by the model and a
    finding: as declared; MISMATCH (declared model_input differs from actual use) or UNDECLARED (a
    sensitive feature with no declared purpose), both open findings that block approval; TO DECLARE
    (detected by name or value, not declared): shown, not gated, since detection is a heuristic."""
    fields = detect(frame, declared, sensitive)
    fields["model_input"] = fields["field"].isin(model_inputs)
    fields["sensitive"] = fields["field"].isin(sensitive)
    findings = []
    for r in fields.itertuples():
        d = declared.get(r.field)
        if r.how_found.endswith("not in this dataset"):
            findings.append("not in this dataset")
        elif d is None and r.sensitive:
            findings.append(f"UNDECLARED: sensitive feature ({r.how_found}); declare its purpose in params/govern.yaml "
                            "personal_data")
        elif d is None:
            findings.append(f"TO DECLARE: {r.category} ({r.how_found}), {'a model input' if r.model_input else 'kept'}; "
                            "declare its purpose in params/govern.yaml personal_data (detection is a heuristic: "
                            "shown, not gated)")
        elif bool(d.get("model_input")) != r.model_input:
            findings.append(f"MISMATCH: declared model_input={d.get('model_input')}, actually "
                            f"{'used' if r.model_input else 'not used'}")
        else:
            findings.append("as declared")
    fields["finding"] = findings
    return fields


def dpia_record(charter: dict, fields: pd.DataFrame, measures: pd.DataFrame, scored: pd.DataFrame, govern: dict) -> dict:
    """The DPIA summary (GDPR art. 35): processing and lawful basis from the charter, the personal
    data from `fields`, measures as checked, risks as scored, and what is still open."""
    present = fields[fields["finding"] != "not in this dataset"]
    return {
        "processing": charter["problem"],
        "dpia_required": bool(present["model_input"].any()) or bool(charter["sensitive_features"]),
        "reason": "profiling of people with personal data to prioritise action on them (GDPR art. 35(3)(a) screening)",
        "lawful_basis": [f"{a['source']}: {a['basis']}" for a in charter["data_access"]],
        "personal_inputs": present.loc[present["model_input"], "field"].tolist(),
        "audit_only_fields": present.loc[~present["model_input"], "field"].tolist(),
        "retention": govern["retention"],
        "mitigations": [f"{r.promise}: {r.status}" for r in measures.itertuples()],
        "highest_residual_risk": scored.sort_values("residual", ascending=False)["risk"].iloc[0],
        "to_declare": fields.loc[fields["finding"].str.startswith("TO DECLARE"), "field"].tolist(),
        "open_findings": fields.loc[fields["finding"].str.startswith(("UNDECLARED", "MISMATCH")), "field"].tolist(),
    }


def dpia_gate(dpia: dict) -> dict:
    """The record must hold no open finding (a personal field undeclared, or used other than
    declared): a model processing personal data that way is not approved, so not served."""
    found = dpia["open_findings"]
    return gate("personal fields used other than declared", len(found), "<=", 0,
                f"params/govern.yaml personal_data: {found}" if found else "params/govern.yaml personal_data")
