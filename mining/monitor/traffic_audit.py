"""Bias audit of recent labelled traffic: the decisions the API made, once their outcomes arrived.

The holdout says how the model treated people before it shipped (govern's audit, which gates
deploy); the traffic says how it treats them now (a shifted population, a new channel), so this
audit runs where the traffic is, in the monitor stage, with the same gates (`mining.fairness_gates`).
The live decisions scored in the latest `days` days that have an outcome are joined, by pseudonym,
to the groups recorded for them (`mining.monitor.protected`) and judged against the charter's
limits, on evidence: a difference gate fails when its 95 % interval lies above the limit (a
month's groups are small; the estimate is shown beside it). When a limit fails, per-group
thresholds fitted on the holdout (fairlearn's ThresholdOptimizer, as evaluate's remediation) are
applied to the logged scores and the gates re-checked, with the cost.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from mining.catalog import report
from mining.evaluate.fairness import odds_difference, parity_difference
from mining.evaluate.mitigation import per_group_decisions
from mining.fairness_gates import audit, audit_segments, remedy_row
from mining.gates import gate
from mining.stats import bootstrap_ci, group_labels

PREFIX = "traffic: "
REPORT = report("monitor")


def recent_decisions(scored: pd.DataFrame, protected: pd.DataFrame, days: int, labelled: bool) -> tuple[pd.DataFrame, dict]:
    """(the live decisions of the latest `days` days, one per person (the latest), with `flagged`
    and the recorded groups; what was taken). `labelled`: only those whose outcome has arrived, the
    window ending at the latest of them."""
    live = scored[(scored["route"] == "live") & scored["record_id"].notna()]
    if labelled:
        live = live[live["target"].notna()]
    if live.empty:
        return live.assign(flagged=pd.Series(dtype=int)), {"records": 0, "with_groups": 0, "first": None, "last": None}
    last = live["at"].max()
    recent = live[live["at"] > last - timedelta(days=int(days))].sort_values("at").drop_duplicates("record_id",
                                                                                                    keep="last")
    out = recent.merge(protected, left_on="record_id", right_index=True, how="left", suffixes=("", "_protected"))
    out = out.assign(flagged=(out["decision"] == "flagged").astype(int))
    if labelled:
        out = out.assign(target=out["target"].astype(int))
    known = out[protected.columns].notna().any(axis=1) if len(protected.columns) else pd.Series(False, index=out.index)
    return out.reset_index(drop=True), {"records": int(len(out)), "with_groups": int(known.sum()),
                                        "first": str(out["at"].min()), "last": str(out["at"].max())}


def coverage(about: dict, min_records: int, days: int) -> dict:
    """Fail closed: an audit of traffic needs enough recent decisions whose groups were recorded."""
    return gate(f"{PREFIX}decisions of the latest {days} days with recorded groups", about["with_groups"], ">=",
                min_records, "params/govern.yaml traffic_audit.min_records; mining.monitor.protected")


def on_evidence(recent: pd.DataFrame, table: pd.DataFrame, gates: list[dict], *, n_boot: int,
                seed: int) -> list[dict]:
    """The difference gates judged on evidence: a month of one portfolio's traffic gives groups of a
    few hundred, whose error rates move by several points from sampling alone, so a difference gate
    fails only when the lower end of its 95 % bootstrap interval (rows resampled within groups, over
    the groups large enough to judge) is above the limit. The estimate and interval stay in the gate."""
    y, p = recent["target"].to_numpy(int), recent["flagged"].to_numpy(int)
    figures = {"equalized_odds": odds_difference, "demographic_parity": parity_difference}
    out = []
    for g in gates:
        if g.get("figure") not in figures or g["threshold"] is None:
            out.append(g)
            continue
        col = g["feature"]
        judged = table.loc[(table["feature"] == col) & (table["status"] != "too small to judge"), "group"]
        groups = group_labels(recent[col])
        keep = groups.isin(judged).to_numpy()
        codes = pd.factorize(groups[keep])[0]
        low, high = bootstrap_ci(figures[g["figure"]], y[keep], p[keep], codes, n_boot=n_boot, seed=seed, strata=codes)
        out.append(g | gate(f"{g['gate']} (lower end of its 95 % interval)", low, "<=", g["threshold"], g["where"])
                   | {"estimate": g["measured"], "interval": [low, high]})
    return out


def judged(recent: pd.DataFrame, sensitive: list[str], kpis: dict, report_only: list[str], *, n_boot: int,
           seed: int) -> tuple[pd.DataFrame, list[dict]]:
    """The holdout's audit on labelled decisions, the difference gates then judged on evidence."""
    table, gates = audit(recent, sensitive, kpis, report_only, where=REPORT)
    return table, on_evidence(recent, table, gates, n_boot=n_boot, seed=seed)


def traffic_audit(recent: pd.DataFrame, sensitive: list[str], kpis: dict, report_only: list[str], segmenter: bool,
                  *, n_boot: int, seed: int) -> tuple[pd.DataFrame, list[dict]]:
    """The audit of the recent decisions, its gates named as the traffic's: a segmenter's shares as
    govern audits them, a classifier's error rates judged on evidence."""
    if segmenter:
        groups, gates = audit_segments(recent, sensitive, kpis, report_only, where=REPORT)
    else:
        groups, gates = judged(recent, sensitive, kpis, report_only, n_boot=n_boot, seed=seed)
    return groups, [g | {"gate": PREFIX + g["gate"]} for g in gates]


def traffic_remediation(holdout: pd.DataFrame, recent: pd.DataFrame, gates: list[dict], sensitive: list[str],
                        kpis: dict, report_only: list[str], *, n_boot: int, seed: int) -> pd.DataFrame | None:
    """When a difference gate of the traffic failed: per-group thresholds by the failing feature with
    the largest estimate, fitted on the holdout's scores and outcomes, applied to the logged scores;
    the same judgement on those decisions, with what they cost. None when no such gate failed."""
    failed = [g for g in gates if not g["passed"] and "estimate" in g]
    if not failed:
        return None
    col = max(failed, key=lambda g: g["estimate"])["feature"]
    as_groups = lambda frame: group_labels(frame[col]).to_numpy(dtype=object)
    decided = per_group_decisions(holdout["target"].to_numpy(), holdout["score"].to_numpy(), as_groups(holdout),
                                  recent["score"].to_numpy(), as_groups(recent),
                                  min_positives=int(kpis["min_group_positives"]), seed=seed)
    _, after = judged(recent.assign(flagged=decided), sensitive, kpis, report_only, n_boot=n_boot, seed=seed)
    y = recent["target"].to_numpy()
    return pd.DataFrame([remedy_row("as served", recent["flagged"].to_numpy(), y, gates),
                         remedy_row(f"per-group thresholds by {col} (fitted on the holdout)", np.asarray(decided), y,
                                    after)])


def audit_traffic(scored: pd.DataFrame, protected: pd.DataFrame, holdout: pd.DataFrame, charter: dict, cfg: dict,
                  report_only: list[str], segmenter: bool, *, n_boot: int, seed: int) -> dict:
    """The whole audit of traffic: the recent decisions (`cfg`: govern.traffic_audit), the coverage
    gate, and, when enough decisions carry groups, the audit and (for a classifier) the remediation
    of a failed limit. Returns about (what was taken), groups, gates (coverage first), remedies."""
    days = int(cfg["days"])
    recent, about = recent_decisions(scored, protected, days, labelled=not segmenter)
    gates = [coverage(about, int(cfg["min_records"]), days)]
    groups, remedies = pd.DataFrame(), None
    if gates[0]["passed"]:
        sensitive, kpis = charter["sensitive_features"], charter["kpis"]
        groups, audited = traffic_audit(recent, sensitive, kpis, report_only, segmenter, n_boot=n_boot, seed=seed)
        gates += audited
        if not segmenter:
            remedies = traffic_remediation(holdout, recent, audited, sensitive, kpis, report_only, n_boot=n_boot,
                                           seed=seed)
    return {"about": about, "groups": groups, "gates": gates, "remedies": remedies}
