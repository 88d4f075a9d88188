"""A later "production" window to score: drawn from the demo generator with drift injected, or,
for other data, the holdout with its most important numeric inputs shifted (a simulation, labelled so)."""

from __future__ import annotations

import pandas as pd

from mining.features.table import build_table
from mining.ingest import schema as sch
from mining.ingest.pipeline import demo_spec, entity_schema, events_schema
from mining.ingest.sources import BUILTIN_DEMO, read_demo
from mining.project import Params, load_params


def demo_window(params: Params, charter: dict) -> tuple[pd.DataFrame, dict]:
    """The demo population `months_later` after the training cut-off, with the drift of params."""
    mon = params["monitor"]["production"]
    cutoff = (pd.Timestamp(params["data"]["events"]["cutoff"]) + pd.DateOffset(months=int(mon["months_later"])))
    later = load_params({"data.events.cutoff": cutoff.strftime("%Y-%m-%d")}, params.root)
    spec = demo_spec(later, seed=int(params["project"]["seed"]) + 1, drift=dict(mon["drift"]))
    raw, _ = read_demo(spec)
    ent = sch.validate(raw["entities"], entity_schema(later, charter, raw["entities"]), "entities", BUILTIN_DEMO)
    ev = sch.validate(raw["events"], events_schema(later), "events", BUILTIN_DEMO)
    table = build_table(later, charter, ent.valid.drop(columns=sch.ORIGIN), ev.valid.drop(columns=sch.ORIGIN))
    quality = {"rows_in": len(raw["entities"]) + len(raw["events"]),
               "rows_quarantined": len(ent.quarantine) + len(ev.quarantine),
               "checks": {**ent.check_counts, **ev.check_counts}}
    return table.frame, {"kind": "demo generator, later window with injected drift", "cutoff": str(cutoff.date()),
                         "drift": dict(mon["drift"]), "quality": quality}


def shifted_holdout(frame: pd.DataFrame, numeric: list[str], shift_std: float) -> tuple[pd.DataFrame, dict]:
    """The holdout with `numeric` columns shifted by `shift_std` standard deviations (simulated drift)."""
    out = frame[frame["split"] == "test"].copy()
    for col in numeric:
        out[col] = out[col] + shift_std * frame[col].std()
    return out, {"kind": "simulated: holdout with shifted inputs", "shifted": numeric, "shift_std": shift_std,
                 "quality": {"rows_in": len(out), "rows_quarantined": 0, "checks": {}}}


def production_window(params: Params, charter: dict, frame: pd.DataFrame, top_numeric: list[str]):
    if params["data"]["source"] == BUILTIN_DEMO:
        return demo_window(params, charter)
    return shifted_holdout(frame, top_numeric, float(params["monitor"]["production"]["shift_std"]))
