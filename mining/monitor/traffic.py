"""Weeks of production requests replayed through the real API, with a scenario of change, and the
outcomes that arrive weeks later.

The records come from a population drawn like the training data: for the demo, fresh customers of
the generator (the shifted population drawn with `monitor.production.drift`, which moves inputs
and the churn relation itself); for other data, the holdout resampled (the shifted population: its
top numeric inputs moved by `production.shift_std` standard deviations, a simulation, said so in
the report). A scenario decides, day by day, which population a record comes from and what an
upstream change did to it:

- `none`: the clean population throughout (what a false-alarm count is measured on);
- `sudden`: the shifted population from `start_day` on;
- `gradual`: the shifted share rising linearly over `ramp_days` from `start_day`;
- `seasonal`: from `start_day`, spending-like inputs times 1 + amplitude x sin(2 pi t / period);
- `broken-column`: from `start_day`, an input arrives null (where the API accepts null) or constant;
- `new-category`: from `start_day`, a share of records carries a level training never saw.

Requests go to `/v1/predict` with the replay time in `X-Replay-Time` (honoured for keys with the
`replay` scope), at most `rate` records a second; each record's outcome goes to the feedback table
with the time it arrives (`label_delay_days` after the prediction), and each person's sensitive
groups to the protected-attributes table (`mining.monitor.protected`) for the bias audit of traffic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pandas as pd

from mining.data.sources import BUILTIN_DEMO, read_demo
from mining.deploy.bundle import records_of
from mining.features.table import build_table
from mining.ingest.pipeline import demo_spec, validate_frames
from mining.monitor import SCENARIOS
from mining.params import Params

NEEDS_SHIFTED = ("sudden", "gradual")


class TrafficError(RuntimeError):
    """The replay could not go on (the API refused a request, a scenario names no usable input)."""


def demo_population(params: Params, charter: dict, n: int, seed: int, drift: dict | None) -> pd.DataFrame:
    """`n` new customers of the demo generator at the training cut-off, in the training data's world
    (its ZIP effects), through ingest's validation and the features stage's table builder (the same
    public steps as training data)."""
    sized = params.with_overrides({"data.demo.n_customers": int(n)})
    raw, _ = read_demo(demo_spec(sized, seed=seed, drift=drift, world_seed=int(params["project"]["seed"])))
    valid, _ = validate_frames(sized, charter, raw, BUILTIN_DEMO)
    return build_table(sized, charter, valid["entities"], valid["events"]).frame


def resampled(frame: pd.DataFrame, n: int, seed: int, id_column: str | None) -> pd.DataFrame:
    """`n` rows drawn from `frame` with replacement, each with an id of its own."""
    out = frame.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    base = out[id_column].astype(str) if id_column else pd.Series("row", index=out.index)
    out["_id"] = base + "~" + pd.Series(range(n)).astype(str).str.zfill(7)
    return out


def populations(params: Params, charter: dict, frame: pd.DataFrame, top_numeric: list[str], n: int,
                need_shifted: bool) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """(clean, shifted or None, what they are); rows carry `_id`, `_target` and every input."""
    data, mon, seed = params["data"], params["monitor"]["production"], int(params["project"]["seed"])
    target = "target"
    if data["source"] == BUILTIN_DEMO:
        def draw(k: int, drift: dict | None) -> pd.DataFrame:
            out = demo_population(params, charter, n, seed + k, drift)
            return out.assign(_id=out[data["id_column"]].astype(str), _target=out[target])
        clean = draw(101, None)
        shifted = draw(202, dict(mon["drift"])) if need_shifted else None
        return clean, shifted, {"kind": "demo generator: new customers drawn like the training data",
                                "shifted": f"the generator with {dict(mon['drift'])}"}
    holdout = frame[frame["split"] == "test"]
    clean = resampled(holdout, n, seed + 101, data.get("id_column"))
    clean["_target"] = clean[target]
    shifted = None
    if need_shifted:
        shifted = resampled(holdout, n, seed + 202, data.get("id_column"))
        shifted["_target"] = shifted[target]
        for col in top_numeric:
            shifted[col] = shifted[col] + float(mon["shift_std"]) * float(frame[col].std())
    return clean, shifted, {"kind": "simulated: the holdout resampled",
                            "shifted": f"{top_numeric} moved by {mon['shift_std']} standard deviations"}


def shifted_share(scenario: str, day: int, start: int, ramp_days: int) -> float:
    """Share of a day's records drawn from the shifted population."""
    if day < start or scenario not in NEEDS_SHIFTED:
        return 0.0
    return 1.0 if scenario == "sudden" else min(1.0, (day - start + 1) / ramp_days)


def seasonal_columns(cfg: dict, inputs: dict[str, dict], amount_column: str | None, top_numeric: list[str]) -> list[str]:
    """The inputs a season moves: as configured, else those built from the events' amounts, else the top numeric."""
    if cfg["columns"]:
        missing = [c for c in cfg["columns"] if c not in inputs]
        if missing:
            raise TrafficError(f"monitor.traffic.seasonal.columns names {missing}, which are not model inputs")
        return list(cfg["columns"])
    amounts = [c for c, s in inputs.items() if s["type"] == "number" and amount_column and amount_column in c]
    return amounts or top_numeric[:3]


def broken_input(cfg: dict, inputs: dict[str, dict], ranked: list[str]) -> tuple[str, str]:
    """(column, how it breaks): null where the contract accepts null, else constant."""
    column = cfg["column"] or next((c for c in ranked if c in inputs), next(iter(inputs)))
    if column not in inputs:
        raise TrafficError(f"monitor.traffic.broken.column: {column!r} is not a model input")
    mode = cfg["mode"]
    if mode == "auto":
        mode = "null" if inputs[column]["nullable"] else "constant"
    return column, mode


def new_category_input(cfg: dict, inputs: dict[str, dict]) -> str:
    cats = {c: s for c, s in inputs.items() if s.get("categories")}
    if cfg["column"]:
        if cfg["column"] not in cats:
            raise TrafficError(f"monitor.traffic.new_category.column: {cfg['column']!r} is not a categorical input")
        return cfg["column"]
    if not cats:
        raise TrafficError("new-category: the model has no categorical input")
    return min(cats, key=lambda c: (len(cats[c]["categories"]), c))


def days_of(scenario: str, cfg: dict, clean: pd.DataFrame, shifted: pd.DataFrame | None, inputs: dict[str, dict],
            seasonal: list[str], broken: tuple[str, str], new_column: str | None, seed: int,
            ) -> Iterator[tuple[int, pd.DataFrame]]:
    """(day, that day's records with `_id` and `_target`) for `cfg['days']` days."""
    if scenario not in SCENARIOS:
        raise TrafficError(f"scenario {scenario!r}: expected one of {SCENARIOS}")
    rng = np.random.default_rng(seed)
    start, taken = int(cfg["start_day"]), {"clean": 0, "shifted": 0}

    def take(pool: pd.DataFrame, name: str, k: int) -> pd.DataFrame:
        i = taken[name]
        if i + k > len(pool):
            raise TrafficError(f"the {name} population of {len(pool)} rows is used up on this replay")
        taken[name] = i + k
        return pool.iloc[i:i + k]

    for day in range(int(cfg["days"])):
        n = int(rng.poisson(cfg["per_day"]))
        k = int(round(n * shifted_share(scenario, day, start, int(cfg["ramp_days"]))))
        rows = pd.concat([take(clean, "clean", n - k)] + ([take(shifted, "shifted", k)] if k else []))
        rows = rows.sample(frac=1, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
        if day >= start and scenario == "seasonal":
            factor = 1 + cfg["seasonal"]["amplitude"] * np.sin(2 * np.pi * (day - start) / cfg["seasonal"]["period_days"])
            for c in seasonal:
                rows[c] = rows[c] * factor
        if day >= start and scenario == "broken-column":
            column, mode = broken
            rows[column] = None if mode == "null" else (inputs[column].get("range", [0])[0]
                                                         if inputs[column]["type"] == "number"
                                                         else inputs[column]["categories"][0])
        if day >= start and scenario == "new-category":
            hit = rng.random(len(rows)) < cfg["new_category"]["share"]
            rows[new_column] = rows[new_column].astype(object).where(~hit, cfg["new_category"]["value"])
        yield day, rows


def pool_size(cfg: dict) -> int:
    """Records a replay may need from one population (Poisson volume with room to spare)."""
    total = cfg["per_day"] * cfg["days"]
    return int(total + 6 * np.sqrt(total) + 50)


def end_date(cfg: dict) -> datetime:
    """Midnight (UTC) after the last day replayed."""
    day = pd.Timestamp(cfg["end"]) if cfg["end"] else pd.Timestamp(datetime.now(timezone.utc).date())
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)


def replay(client: httpx.Client, days: Iterator[tuple[int, pd.DataFrame]], inputs: dict[str, dict], cfg: dict,
           purpose: str, seed: int) -> Iterator[tuple[int, pd.DataFrame, list[str]]]:
    """Post each day's records to `/v1/predict` in batches at their replay times, at most
    `cfg['rate']` records a second; yields (day, records, replay times) once a day is answered."""
    first = end_date(cfg) - timedelta(days=int(cfg["days"]))
    rng = np.random.default_rng(seed + 7)
    budget_start, sent = time.perf_counter(), 0
    for day, rows in days:
        seconds = np.sort(rng.uniform(0, 86_400, len(rows)))
        stamps = [(first + timedelta(days=day, seconds=float(s))).isoformat(timespec="milliseconds") for s in seconds]
        records = records_of(rows[list(inputs)])
        ids = rows["_id"].tolist()
        for lo in range(0, len(records), int(cfg["batch"])):
            hi = lo + int(cfg["batch"])
            r = client.post("/v1/predict", json={"records": records[lo:hi], "ids": ids[lo:hi]},
                            headers={"X-Replay-Time": stamps[lo], "X-Purpose": purpose})
            if r.status_code != 200:
                raise TrafficError(f"day {day}: the API answered {r.status_code} to records {lo}-{hi - 1}: "
                                   f"{r.text[:400]}")
            sent += len(records[lo:hi])
            ahead = sent / cfg["rate"] - (time.perf_counter() - budget_start)
            if ahead > 0:
                time.sleep(ahead)
        yield day, rows, stamps


def run_traffic(params: Params, charter: dict, url: str, key: str, inputs: dict[str, dict], feedback_url: str,
                pseudonym, frame: pd.DataFrame, ranked: list[str], scenario: str | None = None,
                days: int | None = None) -> dict:
    """Replay `scenario` for `days` through the API at `url` and write each record's outcome to the
    feedback table of `feedback_url`, arriving `label_delay_days` later; a summary of what was sent.
    `ranked`: the inputs by importance (the broken column, the other data's shifted inputs)."""
    from mining.monitor.feedback import write_feedback
    from mining.monitor.protected import write_protected

    cfg = dict(params["monitor"]["traffic"])
    cfg["scenario"] = scenario or cfg["scenario"]
    cfg["days"] = int(days or cfg["days"])
    seed = int(params["project"]["seed"])
    numeric = [c for c in ranked if inputs.get(c, {}).get("type") == "number"]
    clean, shifted, about = populations(params, charter, frame, numeric[:3], pool_size(cfg),
                                        cfg["scenario"] in NEEDS_SHIFTED)
    seasonal = seasonal_columns(cfg["seasonal"], inputs, params["data"]["events"].get("amount_column"), numeric) \
        if cfg["scenario"] == "seasonal" else []
    broken = broken_input(cfg["broken"], inputs, ranked) if cfg["scenario"] == "broken-column" else ("", "")
    new_column = new_category_input(cfg["new_category"], inputs) if cfg["scenario"] == "new-category" else None
    delay = timedelta(days=int(cfg["label_delay_days"]))
    sent = outcomes = 0
    purpose = f"traffic replay: scenario {cfg['scenario']}"
    sensitive = [c for c in charter.get("sensitive_features") or [] if c in clean.columns]
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
        for day, rows, stamps in replay(client, days_of(cfg["scenario"], cfg, clean, shifted, inputs, seasonal, broken,
                                                        new_column, seed), inputs, cfg, purpose, seed):
            sent += len(rows)
            known = rows["_target"].notna().to_numpy()
            outcomes += write_feedback(feedback_url, [
                {"record_id": pseudonym(i), "outcome": int(y),
                 "arrived_at": (datetime.fromisoformat(t) + delay).isoformat(timespec="milliseconds")}
                for i, y, t, k in zip(rows["_id"], rows["_target"], stamps, known) if k])
            if sensitive:  # the steward's record of each person's groups, for the bias audit of traffic
                write_protected(feedback_url, [pseudonym(i) for i in rows["_id"]],
                                rows[sensitive].reset_index(drop=True), at=stamps[0])
    first = end_date(cfg) - timedelta(days=cfg["days"])
    return {"scenario": cfg["scenario"], "days": cfg["days"], "first_day": str(first.date()),
            "last_day": str((end_date(cfg) - timedelta(days=1)).date()),
            "start_day": str((first + timedelta(days=int(cfg["start_day"]))).date()), "records": sent,
            "outcomes": outcomes, "label_delay_days": int(cfg["label_delay_days"]), "population": about,
            "changed": {"seasonal": seasonal, "broken": list(broken) if broken[0] else None, "new_category": new_column}}
