"""Scale: ingest + features + the final fit at 1 M, 10 M (and, where the disk allows, 50 M) events,
on the local backend and on a Dask LocalCluster of 2 workers, against the engine floors.

Usage: .venv/bin/python benchmarks/scale.py [--events 1000000 10000000] [--dir /tmp/scale-bench] [--json]

For each size a customer table (one row per 50 events: plan, income, a churn label that depends on
activity) and an event table (id, customer, time, type, amount; 2025) are written as CSV; then, each
in a fresh process (peak memory its own):
  floor     DuckDB: both CSVs to Parquet (events partitioned by month), then the same history
            features as one hand-written SQL query (recency, counts / sums / means per window, trend,
            shares per type) joined to the customers and written to Parquet
  local     the stages' own code in one process: `ingest` (every check, quarantine, contract),
            `build_table` (the history features and the modelling table), and the final fit:
            XGBoost grown on every training row with the rounds found by early stopping on 50,000
  dask      the same on a LocalCluster of 2 single-thread workers (`compute.backend: dask`): blocks
            checked and written by the workers, history features per partition of ids, the trees
            grown by `xgboost.dask`
Prints per size and run: seconds per step, rows/s, peak RSS of the process (read after ingest, after
features and at the end: what each step adds) and of each worker,
holdout ROC AUC of the final fit, and the ratios to the floor (ingest: aim <= 1.5x for CSV; features:
aim <= 1.5x). `--json` adds one JSON object on the last line: for each size and run `stage_s`,
`floor_s`, `ratio`, `peak_mb` (the process's peak by the end of that step) per step.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 1_000_000
PER_CUSTOMER = 50
TYPES = np.array(["purchase", "refund", "login", "transfer", "fee"])
PLANS = np.array(["basic", "plus", "premium"])
WINDOWS = [30, 90, 180, 365]
CUTOFF = "2026-01-01"
CHARTER = {"task": {"type": "classification"}}


def write_sources(folder: Path, events: int) -> tuple[Path, Path]:
    """customers.csv and events.csv for `events` events (kept between runs of the same size)."""
    customers_csv, events_csv = folder / "customers.csv", folder / "events.csv"
    stamp = folder / "events.txt"
    if stamp.exists() and stamp.read_text() == str(events):
        return customers_csv, events_csv
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    n = max(events // PER_CUSTOMER, 1000)
    rate = rng.lognormal(0.0, 0.8, n)  # activity: a low rate churns more
    plan = rng.integers(0, 3, n)
    logit = -1.5 - 2.0 * np.log(rate) + 0.6 * (plan == 0) + rng.normal(0, 0.5, n)
    pacsv.write_csv(pa.table({"customer_id": np.char.add("c", np.arange(n).astype(str)),
                              "plan": PLANS[plan], "income": np.round(rng.lognormal(10.5, 0.5, n), 0),
                              "churned": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)}), customers_csv)
    weights = rate / rate.sum()
    t0 = np.datetime64("2025-01-01T00:00:00")
    with pacsv.CSVWriter(events_csv, pa.schema([("event_id", pa.string()), ("customer_id", pa.string()),
                                                ("event_time", pa.string()), ("event_type", pa.string()),
                                                ("amount", pa.float64())])) as out:
        for start in range(0, events, CHUNK):
            k = min(CHUNK, events - start)
            who = rng.choice(n, size=k, p=weights)
            out.write_table(pa.table({
                "event_id": np.char.add("e", np.arange(start, start + k).astype(str)),
                "customer_id": np.char.add("c", who.astype(str)),
                "event_time": (t0 + rng.integers(0, 365 * 86400, k).astype("timedelta64[s]")).astype(str),
                "event_type": TYPES[rng.integers(0, len(TYPES), k)],
                "amount": np.round(rng.lognormal(3.5, 1.0, k), 2)}))
    stamp.write_text(str(events))
    return customers_csv, events_csv


def floor(customers_csv: Path, events_csv: Path, work: Path) -> dict:
    """DuckDB: the conversion, then the history features as one SQL query."""
    import duckdb

    out = work / "floor"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    figures = {}
    with duckdb.connect() as con:
        t0 = time.perf_counter()
        con.execute(f"COPY (SELECT * FROM read_csv('{customers_csv}')) TO '{out}/customers.parquet' (FORMAT parquet)")
        con.execute(f"COPY (SELECT *, strftime(event_time, '%Y-%m') AS event_time_month FROM read_csv('{events_csv}')) "
                    f"TO '{out}/events' (FORMAT parquet, PARTITION_BY (event_time_month))")
        figures["ingest_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        age = f"date_diff('second', event_time, TIMESTAMP '{CUTOFF}') / 86400.0"
        windows = ", ".join(f"count(*) FILTER (WHERE age <= {w}) AS n_events_{w}d, "
                            f"coalesce(sum(amount) FILTER (WHERE age <= {w}), 0) AS amount_sum_{w}d, "
                            f"avg(amount) FILTER (WHERE age <= {w}) AS amount_mean_{w}d" for w in WINDOWS)
        shares = ", ".join(f"avg((event_type = '{t}')::DOUBLE) AS share_{t}" for t in sorted(TYPES))
        short, long = min(WINDOWS), max(WINDOWS)
        con.execute(f"""
            COPY (
              WITH past AS (SELECT customer_id, event_type, amount, {age} AS age
                            FROM read_parquet('{out}/events/**/*.parquet')
                            WHERE event_time < TIMESTAMP '{CUTOFF}'),
              h AS (SELECT customer_id, min(age) AS days_since_last_event, max(age) AS days_since_first_event,
                           {windows}, {shares} FROM past GROUP BY customer_id)
              SELECT c.*, h.* EXCLUDE (customer_id),
                     (coalesce(h.n_events_{short}d, 0) / {short}) / nullif(coalesce(h.n_events_{long}d, 0) / {long}, 0)
                       AS activity_trend
              FROM read_parquet('{out}/customers.parquet') c LEFT JOIN h USING (customer_id)
            ) TO '{out}/features.parquet' (FORMAT parquet)""")
        figures["features_s"] = time.perf_counter() - t0
        figures["features_peak_mb"] = peak_mb()
        figures["rows"] = con.execute(f"SELECT count(*) FROM read_parquet('{out}/features.parquet')").fetchall()[0][0]
    return figures


def project(work: Path, customers_csv: Path, events_csv: Path, backend: str, address: str | None):
    from mining.params import load_params

    root = work / f"project-{backend}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(ROOT / "params", root / "params")
    (root / "dvc.yaml").write_text("stages: {}\n")
    return load_params({
        "data.source": str(customers_csv), "data.target": "churned", "data.positive_class": 1,
        "data.id_column": "customer_id", "data.time_column": None, "data.split_column": None,
        "data.sensitive_features": [], "data.events.source": str(events_csv), "data.events.id_column": "customer_id",
        "data.events.time_column": "event_time", "data.events.amount_column": "amount",
        "data.events.category_column": "event_type", "data.events.cutoff": CUTOFF,
        "features.windows_days": WINDOWS, "features.interactions": {}, "features.domain_imputation": {},
        "compute.backend": backend, "compute.scheduler_address": address}, root)


def stages(customers_csv: Path, events_csv: Path, work: Path, backend: str) -> dict:
    """The stages' own code, in this process (and its cluster's workers)."""
    from contextlib import nullcontext

    from sklearn.metrics import roc_auc_score

    from mining.features.partitioned import events_for
    from mining.features.store import inputs
    from mining.features.table import build_table
    from mining.ingest.pipeline import ingest, read_entities
    from mining.train.candidates import build_candidate
    from mining.train.distributed import fit_on_cluster, search_rows

    figures: dict = {}
    cluster = nullcontext()
    if backend == "dask":
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster as c:
        client = Client(c) if backend == "dask" else None
        params = project(work, customers_csv, events_csv, backend, c.scheduler_address if client else None)
        t0 = time.perf_counter()
        result = ingest(params, CHARTER)
        figures["ingest_s"] = time.perf_counter() - t0
        figures["rows_in"] = result.totals["rows_in"]
        figures["rows_quarantined"] = result.totals["rows_quarantined"]
        figures["ingest_peak_mb"] = peak_mb()
        t0 = time.perf_counter()
        entities = read_entities(params)
        events = events_for(params, client)
        table = build_table(params, CHARTER, entities, events)
        figures["features_s"] = time.perf_counter() - t0
        figures["features_peak_mb"] = peak_mb()
        frame, defs = table.frame, table.definitions
        train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"]
        X, y = train[inputs(defs)], train["target"].to_numpy()
        rows = search_rows(X, y, 50_000, seed=0)  # the rounds, found as the search finds them
        sample = build_candidate("xgboost", {"n_estimators": 2000, "learning_rate": 0.1, "max_depth": 6}, defs,
                                 seed=0, n_jobs=2, early_stopping_rounds=30, refit=True).fit(X.iloc[rows], y[rows])
        t0 = time.perf_counter()
        if client is None:
            model = build_candidate("xgboost", {"n_estimators": int(sample[-1].best_iteration_), "learning_rate": 0.1,
                                                "max_depth": 6}, defs, seed=0, n_jobs=2)
            model.steps[-1] = ("model", model.steps[-1][1].estimator)  # fixed rounds, no early-stopping slice
            model.fit(X, y)
        else:
            model = fit_on_cluster(client, sample, X, y)
        figures["fit_s"] = time.perf_counter() - t0
        figures["rounds"] = int(sample[-1].best_iteration_)
        figures["holdout_roc_auc"] = float(roc_auc_score(test["target"], model.predict_proba(test[inputs(defs)])[:, 1]))
        figures["customers"] = len(frame)
        if client is not None:
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            figures["worker_peak_mb"] = sorted(round(v) for v in peaks.values())
            client.close()
    figures["fit_peak_mb"] = figures["peak_mb"] = peak_mb()
    return figures


def peak_mb() -> int:
    """This process's peak RSS so far: read after each step, the peak each step adds."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def measure(kind: str, events: int, work: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(events), "--dir", str(work)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{kind} at {events:,} events failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/scale-bench"))
    parser.add_argument("--json", action="store_true", help="print every figure as one JSON object on the last line")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "EVENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, events = args.child[0], int(args.child[1])
        folder = args.dir / str(events)
        if kind == "generate":
            write_sources(folder, events)
            print("{}")
            return
        sources = (folder / "customers.csv", folder / "events.csv")
        print(json.dumps(floor(*sources, folder) if kind == "floor" else stages(*sources, folder, kind)))
        return
    print(f"machine: {platform.machine()}, {platform.python_version()}; LocalCluster: 2 workers x 1 thread")
    report: dict = {"sizes": {}}
    for events in args.events:
        free = shutil.disk_usage(args.dir.parent if not args.dir.exists() else args.dir).free
        if events * 120 * 3 > free:  # CSV, Parquet twice, features: about 120 bytes an event, three copies
            print(f"{events:,} events: skipped, {free / 1e9:.0f} GB free on {args.dir}")
            continue
        measure("generate", events, args.dir)
        runs = {kind: measure(kind, events, args.dir) for kind in ("floor", "local", "dask")}
        fl = runs["floor"]
        size = report["sizes"][str(events)] = {}
        for kind in ("local", "dask"):
            r = runs[kind]
            size[kind] = {**r, "steps": {
                step: {"stage_s": r[f"{step}_s"], "floor_s": fl.get(f"{step}_s"),
                       "ratio": r[f"{step}_s"] / fl[f"{step}_s"] if f"{step}_s" in fl else None,
                       "peak_mb": r[f"{step}_peak_mb"]}
                for step in ("ingest", "features", "fit")}}
        size["floor"] = fl
        print(f"\n{events:,} events, {runs['local']['customers']:,} customers "
              f"(CSV {(args.dir / str(events) / 'events.csv').stat().st_size / 1e6:,.0f} MB)")
        print(f"{'run':<6} {'ingest s':>9} {'x floor':>8} {'events/s':>10} {'features s':>11} {'x floor':>8} "
              f"{'fit s':>7} {'AUC':>7} {'peak MB: ingest / +features / +fit':>35} {'worker peak MB':>15}")
        print(f"{'floor':<6} {fl['ingest_s']:>9.1f} {'':>8} {events / fl['ingest_s']:>10,.0f} {fl['features_s']:>11.1f}")
        for kind in ("local", "dask"):
            r = runs[kind]
            print(f"{kind:<6} {r['ingest_s']:>9.1f} {r['ingest_s'] / fl['ingest_s']:>7.2f}x "
                  f"{r['rows_in'] / r['ingest_s']:>10,.0f} {r['features_s']:>11.1f} {r['features_s'] / fl['features_s']:>7.2f}x "
                  f"{r['fit_s']:>7.1f} {r['holdout_roc_auc']:>7.4f} "
                  f"{' / '.join(f'{r[s]:,}' for s in ('ingest_peak_mb', 'features_peak_mb', 'fit_peak_mb')):>35} "
                  f"{str(r.get('worker_peak_mb', '')):>15}")
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
