"""End to end on a tiny demo: traffic with a sudden shift through the real API -> alerts named in the
window the shift starts -> `mining retrain` -> the challenger in shadow -> `mining promote`, once
promoted and once (a copy of the project, a stricter rule) rejected."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mining.catalog import Catalog
from mining.charter import load_charter
from mining.deploy import releases
from mining.deploy.api import create_app
from mining.deploy.inference_log import read_log
from mining.deploy.server import key_store, running, settings_from
from mining.evaluate.results import load_holdout
from mining.features.store import load
from mining.monitor import SCENARIOS
from mining.monitor.loop import detection
from mining.monitor.protected import read_protected
from mining.monitor.windows import window_of
from mining.monitor.retention import actions
from mining.params import load_params
from mining.sandbox import run


def metrics(root: Path) -> dict:
    return json.loads(Catalog(root).metrics("monitor").read_text())


def week_of(day: str) -> str:
    return window_of(pd.Series([pd.Timestamp(day, tz="UTC")]), "weekly").iloc[0]


def change_window(root: Path) -> str:
    return week_of(json.loads(Catalog(root)["findings"].read_text())["traffic"]["start_day"])


@pytest.mark.e2e
def test_sudden_shift_alert_retrain_shadow_and_promotion_or_rejection(reproduced_demo):
    root = reproduced_demo  # `dvc repro` has run on it: the stage replayed its sudden shift
    cat = Catalog(root)
    mon = metrics(root)
    start = change_window(root)
    drift = [a for a in mon["alerts"] if a["kind"] == "feature_drift"]
    assert drift and min(a["window"] for a in drift) == start  # found in the window the shift starts, not before
    assert {a["feature"] for a in drift if a["window"] == start} & {"amount_sum_30d", "amount_mean_90d", "income",
                                                                    "complaints_12m", "preferred_channel"}
    assert all({"kind", "feature", "window", "severity"} <= set(a) for a in mon["alerts"])
    both = [w for w, v in mon["realised_roc_auc"].items() if v is not None]
    assert len(both) >= 3 and all(abs(mon["estimated_roc_auc"][w] - mon["realised_roc_auc"][w]) < 0.12 for w in both)
    assert mon["retrain"] and "drift" in mon["retrain_kinds"] and start in mon["retrain_reason"]

    # every scenario through the loopback API: alerted in the window its change starts, none before; none is quiet
    params = load_params(root=root)
    charter, (frame, defs), holdout = load_charter(root), load(params), load_holdout(params)
    # the change on the Monday of a week (day 4 of 14 days ending on the stage's end date), 100 records a day
    small = params.with_overrides({"monitor.traffic.start_day": 4, "monitor.traffic.per_day": 100})
    for scenario in SCENARIOS:
        found = detection(small, charter, frame, defs, holdout, scenario, 21 if scenario == "none" else 14,
                          f"sqlite:///{root.parent / (scenario + '.sqlite')}")
        assert found["false_alarms"] == [], found
        if scenario != "none":
            assert found["first_alert_window"] == found["change_window"] and found["named"], found

    # the live path: `mining traffic` through a served API into the inference log and the feedback table
    key = key_store(params).add("traffic", ["predict", "replay"])
    refused = run(["mining", "traffic", "--days", "2"], root, check=False)
    assert refused.returncode == 1 and "--key or $MINING_API_KEY" in refused.stderr
    with running(create_app(releases.champion_dir(root), settings=settings_from(params))) as url:
        out = run(["mining", "traffic", "--scenario", "sudden", "--days", "35", "--url", url, "--key", key], root).stdout
    assert "scenario sudden" in out
    logged = pd.DataFrame(read_log(f"sqlite:///{cat['inference_log']}"))
    assert len(logged) > 35 * 50 and logged["app"].eq("traffic").all()  # monitor.traffic.per_day: 60 here
    groups = read_protected(f"sqlite:///{cat['inference_log']}")  # each person's groups, by the log's pseudonym
    assert set(logged["record_id"]) <= set(groups.index) and set(groups.columns) == set(charter["sensitive_features"])
    # the stage on the live log, as a scheduler runs it
    run(["mining", "run", "monitor", "--set", "monitor.source=log"], root)
    live = metrics(root)
    assert live["source"] == "log" and live["retrain"] and live["drifted_features"] > 0
    shifted_on = re.search(r"scenario sudden from (\d{4}-\d\d-\d\d)", out).group(1)
    assert min(a["window"] for a in live["alerts"] if a["kind"] == "feature_drift") == week_of(shifted_on)

    # retrain on the live log's labelled feedback: a challenger in shadow, the champion kept
    champion = releases.version_of(cat["serving"])
    out = run(["mining", "retrain", "--set", "monitor.source=log"], root).stdout
    st = releases.state(root)
    assert st["champion"] == champion and st["challenger"] and st["challenger"] != champion, out
    assert (cat["releases"] / champion).is_dir() and releases.champion_dir(root) == cat["releases"] / champion
    feedback = pd.read_parquet(cat["feedback_rows"])
    assert len(feedback) >= 100 and feedback["target"].isin([0, 1]).all()
    assert json.loads(cat["feature_definitions"].read_text())["feedback_rows"] == len(feedback)
    mon = metrics(root)  # the stage reran inside retrain: the challenger scored in shadow on the replay
    assert mon["promotion"]["challenger"] == st["challenger"] and mon["promotion"]["decision"] in ("promote", "reject")

    other = root.parent / "rejecting"
    shutil.copytree(root, other, symlinks=True)
    promoted = run(["mining", "promote", "--set", "monitor.promotion.margin=-1"], root).stdout
    assert f"promote: promote challenger {st['challenger']}" in promoted, promoted
    after = releases.state(root)
    assert after["champion"] == st["challenger"] and after["challenger"] is None
    assert [e["event"] for e in after["history"]][-2:] == ["promoted", "retired"]

    rejected = run(["mining", "promote", "--set", "monitor.promotion.margin=1"], other).stdout
    assert f"promote: reject challenger {st['challenger']}" in rejected and "falls short of" in rejected
    kept = releases.state(other)
    assert kept["champion"] == champion and kept["challenger"] is None
    assert kept["history"][-1]["event"] == "rejected" and "monitor.promotion.margin=1" in kept["history"][-1]["reason"]
    archived = run(["mining", "archive", "--set", "monitor.retention.keep_retired=0"], other).stdout
    assert f"archived: model {st['challenger']}" in archived and not (Catalog(other)["releases"] / st["challenger"]).exists()
    assert [a["action"] for a in actions(other)] == ["archived"]
