"""Ingest throughput and peak memory: the stage (validation on) against the floor (the same
conversion written straight by DuckDB or pyarrow, no validation).

Usage: .venv/bin/python benchmarks/ingest.py [--rows 10000000] [--dir /tmp/ingest-bench] [--repeat 1] [--keep] [--json]

Writes an event table of ROWS rows as CSV and as JSON-lines (0.01 % of rows carry a bad value:
a word in a number column, an unparseable time, a negative quantity, a duplicate id), then, each
in a fresh process so that peak memory (max RSS) is its own:
  stage    the ingest stage (`mining.ingest.pipeline.ingest`: read, type, validate with pandera,
           unique ids, quarantine, hive-partitioned Parquet by month, profile, lineage hashes)
  duckdb   COPY (SELECT ..., month) TO ... (FORMAT parquet, PARTITION_BY month); DuckDB types the
           columns itself and skips rows it cannot read (ignore_errors), so it writes a few rows fewer
  pyarrow  streaming CSV reader, text as is -> dataset.write_dataset partitioned by month (CSV only:
           pyarrow's JSON reader stops at a field whose type changes)
and prints rows/s, wall seconds and peak RSS for each, and the stage's ratio to the faster floor; with
`--repeat N` the floors and the stage run N times, alternating, and the median run's ratio is reported (a
VM's speed drifts by 15-30 % over minutes); `--json` adds one JSON object on the last line: per format
`stage_s`, `floor_s`, `ratio` (the median run's), `ratios`, `peak_mb`.
"""

from __future__ import annotations

import argparse
import itertools
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
import pyarrow.compute as pc
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 1_000_000
TYPES = ("purchase", "refund", "login", "transfer", "fee")
CHANNELS = ("web", "app", "branch")


def make_chunk(start: int, n: int, rng: np.random.Generator) -> pa.Table:
    ids = np.arange(start, start + n)
    t0 = np.datetime64("2025-01-01T00:00:00")
    times = (t0 + rng.integers(0, 365 * 86400, n).astype("timedelta64[s]")).astype(str)
    amount = np.round(rng.lognormal(3.5, 1.0, n), 2).astype(str)
    qty = rng.integers(1, 10, n).astype(str)
    event_id = np.char.add("e", ids.astype(str))
    bad = rng.random(n) < 0.0001  # about 1 in 10,000 rows has one bad value
    kind = rng.integers(0, 4, n)
    amount = np.where(bad & (kind == 0), "n/a", amount)
    times = np.where(bad & (kind == 1), "yesterday", times)
    qty = np.where(bad & (kind == 2), "-3", qty)
    event_id = np.where(bad & (kind == 3), np.char.add("e", np.maximum(ids - 1, 0).astype(str)), event_id)
    return pa.table({
        "event_id": event_id, "customer_id": np.char.add("c", rng.integers(0, 200_000, n).astype(str)),
        "event_time": times, "event_type": np.array(TYPES)[rng.integers(0, len(TYPES), n)],
        "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), n)], "amount": amount, "quantity": qty,
        "label": (rng.random(n) < 0.1).astype(int).astype(str),
    })


def json_lines(table: pa.Table) -> str:
    """The rows as JSON objects, numbers as JSON numbers where they parse (as logs have them)."""
    parts = []
    for i, c in enumerate(table.column_names):
        v = table[c]
        quoted = pc.binary_join_element_wise('"', v, '"', "")
        if c in ("amount", "quantity", "label"):
            v = pc.if_else(pc.match_substring_regex(v, r"^-?[0-9.]+$"), v, quoted)
        else:
            v = quoted
        parts.append(pc.binary_join_element_wise(("{" if i == 0 else ",") + f'"{c}":', v, ""))
    lines = pc.binary_join_element_wise(*parts, "}\n", "")
    return "".join(lines.to_pylist())


def write_sources(folder: Path, rows: int) -> tuple[Path, Path]:
    csv_path, jsonl_path = folder / "events.csv", folder / "events.jsonl"
    if csv_path.exists() and jsonl_path.exists() and (folder / "rows.txt").read_text() == str(rows):
        return csv_path, jsonl_path
    rng = np.random.default_rng(7)
    with pacsv.CSVWriter(csv_path, make_chunk(0, 1, rng).schema) as csv_out, open(jsonl_path, "w") as js:
        for start in range(0, rows, CHUNK):
            table = make_chunk(start, min(CHUNK, rows - start), rng)
            csv_out.write_table(table)
            js.write(json_lines(table))
    (folder / "rows.txt").write_text(str(rows))
    return csv_path, jsonl_path


def child(kind: str, source: Path, work: Path) -> dict:
    """One measurement, run in its own process."""
    out = work / f"out-{kind}-{source.suffix[1:]}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    if kind == "stage":
        rows = run_stage(source, work, out)
    elif kind == "duckdb":
        import duckdb

        reader = "read_csv" if source.suffix == ".csv" else "read_json"
        with duckdb.connect() as con:
            con.execute(f"COPY (SELECT *, strftime(TRY_CAST(event_time AS TIMESTAMP), '%Y-%m') AS event_time_month "
                        f"FROM {reader}('{source}', ignore_errors = true)) TO '{out}' "
                        f"(FORMAT parquet, PARTITION_BY (event_time_month))")
            rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}/**/*.parquet')").fetchone()[0]
    else:
        rows = run_pyarrow(source, out)
    wall = time.perf_counter() - t0
    return {"kind": kind, "format": source.suffix[1:], "rows": int(rows), "wall_s": wall,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_pyarrow(source: Path, out: Path) -> int:
    import pyarrow.dataset as ds
    if source.suffix != ".csv":
        raise SystemExit("pyarrow's JSON reader stops at a field whose type changes: no floor for JSON-lines")
    names = pacsv.open_csv(source).schema.names
    reader = pacsv.open_csv(source, read_options=pacsv.ReadOptions(block_size=32 << 20),
                            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}))
    rows = 0

    def batches():  # text copied as is, the month cut from the timestamp text: no parsing, no checks
        nonlocal rows
        for batch in reader:
            t = pa.Table.from_batches([batch])
            t = t.append_column("event_time_month", pc.utf8_slice_codeunits(t["event_time"], 0, 7))
            rows += t.num_rows
            yield from t.to_batches()

    gen = batches()
    head = next(gen)  # the schema comes from the first batch
    ds.write_dataset(itertools.chain([head], gen), out, schema=head.schema, format="parquet",
                     partitioning=["event_time_month"], partitioning_flavor="hive")
    return rows


def run_stage(source: Path, work: Path, out: Path) -> int:
    from mining.ingest.pipeline import ingest
    from mining.params import load_params

    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(ROOT / "params", project / "params")
    (project / "dvc.yaml").write_text("stages: {}\n")
    params = load_params({"data.source": str(source), "data.target": "label", "data.id_column": "event_id",
                          "data.time_column": "event_time", "data.sensitive_features": []}, project)
    result = ingest(params, {"task": {"type": "classification"}}, out)
    return result.totals["rows_valid"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/ingest-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the generated sources and outputs")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the floors and the stage, alternating; "
                        "the median run's ratio is reported")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object on the last line")
    parser.add_argument("--child-gen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SOURCE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]), args.dir)))
        return
    if args.child_gen:
        write_sources(args.dir, args.rows)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # in a child too: Linux keeps a process's peak RSS across exec, so the measuring processes are
    # started from this small parent, never from one that held the generated rows
    subprocess.run([sys.executable, __file__, "--dir", str(args.dir), "--rows", str(args.rows), "--child-gen"],
                   check=True)
    sources = (args.dir / "events.csv", args.dir / "events.jsonl")
    print(f"machine: {platform.machine()}, python {platform.python_version()}; {args.rows:,} rows "
          f"(CSV {sources[0].stat().st_size / 1e6:.0f} MB, JSON-lines {sources[1].stat().st_size / 1e6:.0f} MB, "
          f"written in {time.perf_counter() - t0:.0f} s)")
    print(f"{'format':<6} {'run':<8} {'rows out':>11} {'wall s':>8} {'rows/s':>11} {'peak RSS MB':>12}")
    report: dict = {"rows": args.rows, "repeat": args.repeat, "formats": {}}
    for source in sources:
        fmt, ratios, runs = source.suffix[1:], [], []
        for _ in range(args.repeat):  # floors and stage alternate: a VM's speed drifts ±15-30 % over minutes
            results = {}
            for kind in ("duckdb", "pyarrow", "stage"):
                proc = subprocess.run([sys.executable, __file__, "--dir", str(args.dir), "--child", kind, str(source)],
                                      capture_output=True, text=True, check=False)
                if proc.returncode:
                    print(f"{fmt:<6} {kind:<8} failed: {proc.stderr.strip().splitlines()[-1]}")
                    continue
                r = results[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"{r['format']:<6} {kind:<8} {r['rows']:>11,} {r['wall_s']:>8.1f} {r['rows'] / r['wall_s']:>11,.0f} "
                      f"{r['peak_rss_mb']:>12,.0f}")
            floors = [results[k]["wall_s"] for k in ("duckdb", "pyarrow") if k in results]
            if "stage" in results and floors:
                ratios.append(results["stage"]["wall_s"] / min(floors))
                runs.append(results)
        if ratios:
            aim = 1.5 if fmt == "csv" else 2.0
            middle = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]  # the median run
            stage, floor = runs[middle]["stage"], min(runs[middle][k]["wall_s"] for k in ("duckdb", "pyarrow")
                                                      if k in runs[middle])
            print(f"{fmt:<6} stage / fastest floor: {ratios[middle]:.2f}x median of {len(ratios)} "
                  f"({', '.join(f'{r:.2f}' for r in ratios)}; aim <= {aim}x); "
                  f"stage peak RSS {max(r['stage']['peak_rss_mb'] for r in runs):,.0f} MB (aim < 2048)")
            report["formats"][fmt] = {"stage_s": stage["wall_s"], "floor_s": floor, "ratio": ratios[middle],
                                      "ratios": ratios, "peak_mb": max(r["stage"]["peak_rss_mb"] for r in runs),
                                      "runs": runs}
    if args.json:
        print(json.dumps(report))
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
