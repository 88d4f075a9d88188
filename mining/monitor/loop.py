"""The monitoring loop around the stage: where its traffic comes from, retraining on the labelled
feedback, and the champion/challenger decision.

`monitor.source: replay` (the default, so `dvc repro` is reproducible): the stage starts the real
API on a loopback port over the champion (and the challenger in shadow, when there is one) and
replays `monitor.traffic` into its own log (`replay_log`, a DVC output). `log`: the live log of
`deploy.log_url` and its feedback table, as a scheduler would run it (not a DVC input: it grows).
`mining retrain` and `mining promote` read whichever the monitor reads.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pandas as pd

from mining.catalog import Catalog, member, metrics, report
from mining.deploy import releases
from mining.deploy.api import Settings, create_app
from mining.deploy.inference_log import InferenceLog, pseudonymiser
from mining.deploy.keys import KeyStore
from mining.deploy.server import log_url, running
from mining.features import feedback as feedback_rows
from mining.monitor.feedback import read_feedback, read_scored, with_outcomes
from mining.monitor.outcomes import import_outcomes, logged_ids, read_outcomes, validated
from mining.monitor.promotion import PROMOTE, REJECT, promotion_decision, shadow_pairs
from mining.monitor.retention import apply_retention
from mining.monitor.traffic import end_date, run_traffic
from mining.monitor.windows import Baseline
from mining.params import Params
from mining.reports import read_json
from mining.tools import run


class LoopError(RuntimeError):
    """A retrain or promotion that cannot go ahead (the message says why and what to do)."""


def stage_end(params: Params) -> str:
    """The stage's replay ends `production.months_later` after the training cut-off (deterministic)."""
    cutoff = pd.Timestamp(params["data"]["events"]["cutoff"])
    return (cutoff + pd.DateOffset(months=int(params["monitor"]["production"]["months_later"]))).strftime("%Y-%m-%d")


def monitored_log(params: Params) -> tuple[str, pd.Timestamp]:
    """(the log's URL, the time outcomes count as arrived by) for `monitor.source`."""
    if params["monitor"]["source"] == "replay":
        cfg = params["monitor"]["traffic"] | {"end": stage_end(params)}
        return f"sqlite:///{Catalog(params.root)['replay_log']}", pd.Timestamp(end_date(cfg))
    return log_url(params), pd.Timestamp.now(tz="UTC")


def pseudonym(params: Params):
    """The log's id pseudonymiser (the API's key), so feedback joins the log without raw ids."""
    return pseudonymiser(params["deploy"]["pseudonym_key_env"], Catalog(params.root)["pseudonym_key"])


def replay_for_stage(params: Params, charter: dict, frame: pd.DataFrame, ranked: list[str]) -> dict:
    """Replay `monitor.traffic` into the stage's own log (made afresh); what was sent."""
    url, _ = monitored_log(params)
    path = Catalog(params.root)["replay_log"]
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    return replay_into(params.with_overrides({"monitor.traffic.end": stage_end(params)}), charter, frame, ranked, url)


def replay_into(params: Params, charter: dict, frame: pd.DataFrame, ranked: list[str], url: str) -> dict:
    """Replay `monitor.traffic` through a loopback API over the champion (and the challenger in
    shadow) into the log at `url`, with a throwaway key of the replay scope; what was sent."""
    champion, challenger = releases.champion_dir(params.root), releases.challenger_dir(params.root)
    with tempfile.TemporaryDirectory(prefix="mining-replay-keys-") as tmp:
        keys = KeyStore(f"sqlite:///{tmp}/keys.sqlite")
        key = keys.add("traffic-replay", ["predict", "replay"])
        settings = Settings(keys=keys, log=InferenceLog(url), pseudonym=pseudonym(params), shadow=True,
                            max_records=max(int(params["monitor"]["traffic"]["batch"]), 1))
        app = create_app(champion, settings=settings, candidate_dir=challenger)
        with running(app) as base:
            summary = run_traffic(params, charter, base, key, releases.info(champion)["inputs"], url,
                                  settings.pseudonym, frame, ranked)
        keys.engine.dispose()
    return summary | {"champion": releases.version_of(champion),
                      "challenger": releases.version_of(challenger) if challenger else None}


def scored_with_outcomes(params: Params, routes: tuple[str, ...] | None = None, url: str | None = None,
                         as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """The log's records (of `routes`) with their outcomes where arrived by `as_of` (default: the monitored log's)."""
    if url is None:
        url, as_of = monitored_log(params)
    return with_outcomes(read_scored(url, routes), read_feedback(url, as_of))


def import_outcomes_from(params: Params, source: str, table: str | None) -> dict:
    """`mining outcomes`: operations' outcomes (file, or table at a URL) into the live log's feedback
    table, ids pseudonymised with the API's key; what was written and how much matched a decision."""
    url = log_url(params)
    return import_outcomes(url, validated(*read_outcomes(source, table)), pseudonym(params), logged_ids(url))


def baseline(frame: pd.DataFrame, definitions: dict, holdout: pd.DataFrame, bundle: dict) -> Baseline:
    """What windows are compared with: the training rows, the holdout's outputs, the bundle's schema."""
    segmenter = bundle["task"] == "segmentation"
    return Baseline(reference=frame[frame["split"] == "train"], definitions=definitions, inputs=bundle["inputs"],
                    holdout_scores=holdout["segment" if segmenter else "score"].to_numpy(),
                    holdout_target=None if segmenter else holdout["target"].to_numpy(),
                    threshold=bundle.get("threshold"))


def export_feedback(params: Params) -> int:
    """The live records whose outcomes have arrived, as training rows (`features.feedback`)."""
    scored = scored_with_outcomes(params, ("live", "canary"))
    labelled = scored[scored["target"].notna()].sort_values("at").drop_duplicates("record_id", keep="last")
    inputs = [c for c in labelled.columns if c not in {"request_id", "at", "app", "model_version", "route", "record_id",
                                                        "features_sha256", "score", "decision", "segment", "target"}]
    rows = labelled[["record_id", "model_version", "target", *inputs]].assign(
        scored_at=labelled["at"].dt.strftime("%Y-%m-%dT%H:%M:%S%z"), target=labelled["target"].astype(int))
    return feedback_rows.write_rows(params.root, rows[feedback_rows.COLUMNS + inputs])


def retrain(params: Params, force: bool = False) -> dict:
    """Append the labelled feedback to the training rows and rebuild (`dvc repro`); the new bundle
    goes into shadow as the challenger, the champion's bundle is kept as it was."""
    root = params.root
    cat = Catalog(root)
    found = root / metrics("monitor")
    monitor = read_json(found) if found.exists() else {}
    if not force and not monitor.get("retrain"):
        raise LoopError(f"the monitor sees no reason to retrain ({metrics('monitor')}: retrain is false): "
                        "run the monitor stage first, or pass --force")
    champion = releases.ensure_champion(root)
    n = export_feedback(params)
    need = int(params["monitor"]["retrain"]["min_feedback"])
    if n < need:
        raise LoopError(f"{n} labelled records in the feedback so far; monitor.retrain.min_feedback={need} needed")
    repro(root, ["deploy"], champion)  # up to the new bundle; then the rest, with the challenger in shadow
    serving = cat["serving"]
    if releases.version_of(serving) == champion:
        raise LoopError(f"the rebuilt model was not deployed (gates or governance: see {report('deploy')}); "
                        f"the champion {champion} keeps serving")
    reason = f"retrained on {n:,} labelled feedback records because: {monitor.get('retrain_reason') or 'forced'}"
    challenger = releases.start_shadow(root, serving, reason)
    repro(root, [], champion)
    return {"champion": champion, "challenger": challenger, "feedback_rows": n, "reason": reason}


def repro(root: Path, targets: list[str], champion: str) -> None:
    """`dvc repro TARGETS` in the project, or LoopError with its output's tail."""
    proc = run(["dvc", "repro", *targets], root, check=False)
    if proc.returncode != 0:
        raise LoopError(f"dvc repro {' '.join(targets)} failed (the champion {champion} keeps serving):\n"
                        f"{(proc.stdout + proc.stderr)[-3000:]}")


def shadow_decision(params: Params) -> dict | None:
    """The promotion rule on the shadow traffic of the monitored log (None without a challenger)."""
    st = releases.state(params.root)
    if not st["challenger"]:
        return None
    pairs = shadow_pairs(scored_with_outcomes(params), st["champion"], st["challenger"])
    gates = read_json(releases.bundle_dir(params.root, st["challenger"]) / member("serving_approval")).get("evaluation_gates", [])
    return {"champion": st["champion"], "challenger": st["challenger"],
            **promotion_decision(pairs, gates, params["monitor"]["promotion"])}


def promote(params: Params) -> dict:
    """Apply the promotion rule: promote or reject the challenger (or wait for outcomes), then the
    retention policy (on the live log: the stage's replayed one is a DVC output, rebuilt each run);
    the decision and the actions taken."""
    decision = shadow_decision(params)
    if decision is None:
        raise LoopError("no challenger in shadow: `mining retrain` makes one")
    if decision["decision"] == PROMOTE:
        try:  # the registry checks its gates, its approval and (high-risk) the review board's sign-off
            releases.promote(params.root, decision["reason"])
        except releases.ReleaseError as exc:
            raise LoopError(f"promotion of challenger {decision['challenger']} refused: {exc}") from exc
    elif decision["decision"] == REJECT:
        releases.reject(params.root, decision["reason"])
    return decision | {"archived": apply_retention(params.root, params["monitor"]["retention"], log_url(params))}


def champion_age_days(scored: pd.DataFrame, champion: str, as_of: pd.Timestamp) -> float | None:
    """How long the champion has answered live traffic in the log (None: it never has)."""
    mine = scored.loc[scored["model_version"] == champion, "at"]
    return (as_of - mine.min()) / timedelta(days=1) if len(mine) else None


def ranked_inputs(params: Params, definitions: dict) -> list[str]:
    """The model inputs, most important first (the evaluation's ranking where there is one)."""
    names = [f["name"] for f in definitions["features"]]
    path = Catalog(params.root)["importance"]
    ranked = [f for f in pd.read_csv(path)["feature"] if f in names] if path.exists() else []
    return ranked + [n for n in names if n not in ranked]


def traffic(params: Params, charter: dict, url: str, key: str, scenario: str | None, days: int | None) -> dict:
    """`mining traffic`: the scenario through the API at `url` into its log, outcomes into the feedback table."""
    from mining.features.store import load

    frame, defs = load(params)
    inputs = releases.info(releases.champion_dir(params.root))["inputs"]
    return run_traffic(params, charter, url, key, inputs, log_url(params), pseudonym(params), frame,
                       ranked_inputs(params, defs), scenario, days)


EXPECTED_ALERTS = {"sudden": {"feature_drift"}, "gradual": {"feature_drift"}, "seasonal": {"feature_drift"},
                   "broken-column": {"null_column", "constant_column"}, "new-category": {"unseen_category"}}


def detection(params: Params, charter: dict, frame: pd.DataFrame, definitions: dict, holdout: pd.DataFrame,
              scenario: str, days: int, url: str) -> dict:
    """Replay `scenario` for `days` into the log at `url` (a scratch one) and read it back in windows
    as the stage does: where the change starts, where it was first alerted, what was named, and the
    alerts before it (false alarms; all of them for `none`)."""
    from mining.monitor.windows import over_windows, window_of

    p = params.with_overrides({"monitor.traffic.scenario": scenario, "monitor.traffic.days": days,
                               "monitor.traffic.end": stage_end(params)})
    sent = replay_into(p, charter, frame, ranked_inputs(p, definitions), url)
    as_of = pd.Timestamp(end_date(p["monitor"]["traffic"]))
    windows, _, alerts = over_windows(scored_with_outcomes(p, ("live", "canary"), url, as_of),
                                      baseline(frame, definitions, holdout, releases.info(releases.champion_dir(p.root))),
                                      p["monitor"], as_of)
    both = windows.dropna(subset=["estimated_roc_auc", "realised_roc_auc"]) if "realised_roc_auc" in windows else windows[:0]
    start = window_of(pd.Series([pd.Timestamp(sent["start_day"], tz="UTC")]), p["monitor"]["window"]).iloc[0]
    found = [a for a in alerts if a["kind"] in EXPECTED_ALERTS.get(scenario, set())]
    first = min((a["window"] for a in found), default=None)
    return {"scenario": scenario, "records": sent["records"], "windows": len(windows), "changed": sent["changed"],
            "estimate_mae": float((both["estimated_roc_auc"] - both["realised_roc_auc"]).abs().mean()) if len(both) else None,
            "change_window": None if scenario == "none" else start, "first_alert_window": first,
            "named": sorted({a["feature"] for a in found if a["window"] == first}),
            "false_alarms": [(a["window"], a["kind"], a["feature"]) for a in alerts
                             if scenario == "none" or a["window"] < start]}
