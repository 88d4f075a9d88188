"""A later "production" window to score: drawn from the demo generator with drift injected, or,
for other data, the holdout with its most important numeric inputs shifted (a simulation, labelled so).

The window goes through the same public steps as training data (ingest's validation, the
features stage's table builder) with the run's own params, overrides included."""

from __future__ import annotations

import pandas as pd

from mining.data.sources import BUILTIN_DEMO, read_demo
from mining.features.table import build_table
from mining.ingest.pipeline import demo_spec, validate_frames
from mining.params import Params


def demo_window(params: Params, charter: dict) -> tuple[pd.DataFrame, dict]:
    """The demo population `months_later` after the training cut-off, with the drift of params."""
    mon = params["monitor"]["production"]
    cutoff = pd.Timestamp(params["data"]["events"]["cutoff"]) + pd.DateOffset(months=int(mon["months_later"]))
    later = params.with_overrides({"data.events.cutoff": cutoff.strftime("%Y-%m-%d")})
    raw, _ = read_demo(demo_spec(later, seed=int(params["project"]["seed"]) + 1, drift=dict(mon["drift"])))
    valid, quality = validate_frames(later, charter, raw, BUILTIN_DEMO)
    table = build_table(later, charter, valid["entities"], valid["events"])
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
