"""Each traffic scenario through the real API, and where monitoring finds it.

Usage (after `make repro`): .venv/bin/python benchmarks/monitor_scenarios.py [--scenarios none sudden ...]
[--days 70] [--none-windows 20] [--json]

For each scenario (`mining.monitor.loop.detection`): `monitor.traffic` replayed through a loopback API
over the project's champion into a scratch log (nothing of the project is written), then read back in
windows (`monitor.window`) exactly as stage 07 reads it. Prints, per scenario, the window the change
starts in, the first window with an alert of the expected kind, the inputs named there and the alerts
before the change; for `none`, replayed over `--none-windows` windows, every alert is a false alarm.
Also the mean absolute error of the ROC AUC estimated before labels against the realised one, over the
windows whose outcomes arrived, and the replay's records per second.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mining.charter import load_charter  # noqa: E402
from mining.evaluate.results import load_holdout  # noqa: E402
from mining.features.store import load  # noqa: E402
from mining.monitor import SCENARIOS, loop  # noqa: E402
from mining.params import load_params  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    ap.add_argument("--days", type=int, default=70)
    ap.add_argument("--none-windows", type=int, default=20, help="windows replayed for `none`")
    ap.add_argument("--json", action="store_true", help="also print all figures as one JSON object, last line")
    args = ap.parse_args()
    params = load_params(root=ROOT)
    charter, (frame, defs), holdout = load_charter(ROOT), load(params), load_holdout(params)
    per_window = 7 if params["monitor"]["window"] == "weekly" else 1
    results = []
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        for scenario in args.scenarios:
            days = args.none_windows * per_window if scenario == "none" else args.days
            t0 = time.perf_counter()
            r = loop.detection(params, charter, frame, defs, holdout, scenario, days, f"sqlite:///{tmp}/{scenario}.sqlite")
            r["seconds"] = round(time.perf_counter() - t0, 1)
            results.append(r)
            mae = "n/a" if r["estimate_mae"] is None else f"{r['estimate_mae']:.4f}"
            if scenario == "none":
                print(f"none: {r['windows']} windows, {r['records']:,} records: {len(r['false_alarms'])} false alarms "
                      f"{r['false_alarms'] or ''}; estimate MAE {mae}; {r['seconds']} s")
            else:
                where = "the same window" if r["first_alert_window"] == r["change_window"] else "NOT the start window"
                print(f"{scenario}: change in window {r['change_window']}, first alert {r['first_alert_window']} ({where}), "
                      f"named {r['named']}; {len(r['false_alarms'])} alerts before the change; estimate MAE {mae}; "
                      f"{r['records']:,} records in {r['seconds']} s")
    if args.json:
        print(json.dumps({"machine": platform.machine(), "python": platform.python_version(), "results": results},
                         default=str))


if __name__ == "__main__":
    main()
