"""Throughput and latency of the scoring API, against `mlflow models serve` on the same model and a
FastAPI hello-world, all on loopback on this machine.

Usage: .venv/bin/python benchmarks/serve.py [--seconds 15] [--workers 2] [--soak 0] [--no-write]
Needs: `make repro` (the serving bundle and the feature table) and wrk (`apt-get install wrk`).

Each server gets, one after the other:
  throughput  wrk, 2 threads, 8 connections, SECONDS, one record per request, cycling through the
              distinct holdout records (this API: with an API key, the inference log on, the cache
              off, so every request is a miss)
  paced       100 requests/s for SECONDS from one keep-alive connection, fixed schedule: p50 / p99
and this API once more with the cache on over 200 records (its gain, reported separately).
`--soak S` then loads this API for S seconds and checks that the inference log holds exactly one
row per record the server scored (its /metrics count) and per 2xx answer wrk counted.
The table goes to benchmarks/results/serve.json (the deploy report shows it) unless --no-write.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mining.catalog import Catalog  # noqa: E402
from mining.deploy.bundle import load_bundle, records_of  # noqa: E402
from mining.deploy.inference_log import read_log  # noqa: E402
from mining.deploy.keys import KeyStore  # noqa: E402
from mining.features.store import inputs, load  # noqa: E402
from mining.params import load_params  # noqa: E402

BIN = Path(sys.executable).parent
WRK_SCRIPT = """
local bodies = {}
if os.getenv("BODIES") ~= "" then
  for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
end
local key, path, method = os.getenv("KEY") or "", os.getenv("URLPATH"), os.getenv("METHOD")
local i = 0
setup = function(thread) thread:set("offset", i); i = i + 7919 end
request = function()
  offset = offset + 1
  local headers = {["Content-Type"] = "application/json"}
  if key ~= "" then headers["X-API-Key"] = key end
  if #bodies == 0 then return wrk.format(method, path) end
  return wrk.format(method, path, headers, bodies[(offset % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %f %f\\n", summary.requests, e.status,
           e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""
HELLO = """
from fastapi import FastAPI
app = FastAPI()
@app.get("/")
async def root():
    return {"hello": "world"}
"""
HELLO_LAUNCH = """
import sys
sys.path.insert(0, sys.argv[3])
import uvicorn
from uvicorn.supervisors import Multiprocess
from mining.deploy.server import tcp_socket
if __name__ == "__main__":
    config = uvicorn.Config("hello:app", host="127.0.0.1", port=int(sys.argv[1]), workers=int(sys.argv[2]),
                            log_level="warning", access_log=False)
    Multiprocess(config, sockets=[tcp_socket("127.0.0.1", int(sys.argv[1]))]).run()
"""


def wait_ready(port: int, path: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            con = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            con.request("GET", path)
            if con.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server on port {port} did not become ready in {seconds} s")


def stop(proc: subprocess.Popen) -> None:
    """A clean shutdown (SIGINT, as Ctrl-C): workers finish, the log is flushed."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(port: int, path: str, bodies: Path | None, key: str, seconds: int, script: Path) -> dict:
    """wrk's closed-loop load: POST of `bodies` in turn (GET `path` when None); its own counts."""
    env = {**os.environ, "BODIES": str(bodies or ""), "KEY": key, "URLPATH": path, "METHOD": "POST" if bodies else "GET"}
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
                          f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    n, non2xx, socket_errors, p50, p99 = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)", out).groups()
    return {"requests_per_s": rps, "requests": int(n), "non_2xx": int(non2xx), "socket_errors": int(socket_errors),
            "p50_ms": float(p50), "p99_ms": float(p99)}


def paced(port: int, method: str, path: str, bodies: list[bytes], key: str, rate: float, seconds: int) -> dict:
    """One keep-alive connection, one request every 1/rate s: what a caller at that rate sees."""
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"} | ({"X-API-Key": key} if key else {})
    times, errors = [], 0
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        con.request(method, path, body=bodies[i % len(bodies)] if bodies else None, headers=headers)
        r = con.getresponse()
        r.read()
        times.append((time.perf_counter() - t0) * 1000)
        errors += r.status >= 300
    t = np.array(times)
    return {"paced_rate": rate, "paced_p50_ms": float(np.percentile(t, 50)), "paced_p99_ms": float(np.percentile(t, 99)),
            "paced_errors": errors}


def scored_count(port: int) -> float:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    con.request("GET", "/metrics")
    text = con.getresponse().read().decode()
    return sum(float(v) for v in re.findall(r"^mining_api_records_scored_total\{[^}]*\} ([\d.e+]+)$", text, re.M))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--soak", type=int, default=0, help="then load this API for this many seconds and count the log")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    params = load_params(root=ROOT)
    cat = Catalog(ROOT)
    model, info = load_bundle(ROOT)
    frame, defs = load(params)
    records = records_of(frame[frame["split"] == "test"][inputs(defs)])
    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    script = tmp / "post.lua"
    script.write_text(WRK_SCRIPT)
    ours = tmp / "ours.jsonl"
    ours.write_text("".join(json.dumps({"records": [r]}) + "\n" for r in records))
    theirs = tmp / "mlflow.jsonl"
    theirs.write_text("".join(json.dumps({"dataframe_records": [r]}) + "\n" for r in records))
    key = KeyStore(f"sqlite:///{tmp / 'keys.sqlite'}").add("benchmark", ["predict"])
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    results, soak = [], None

    def ours_server(port: int, cache_s: int, log: Path) -> subprocess.Popen:
        sets = {"deploy.port": port, "deploy.workers": args.workers, "deploy.keys_url": f"sqlite:///{tmp / 'keys.sqlite'}",
                "deploy.log_url": f"sqlite:///{log}", "deploy.cache_ttl_s": cache_s,
                "deploy.rate_limit_per_minute": 100_000_000}
        cmd = [str(BIN / "mining"), "serve", *[a for k, v in sets.items() for a in ("--set", f"{k}={v}")]]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        wait_ready(port, "/readyz")
        return proc

    print(f"{len(records):,} distinct holdout records; model {info['model_version']} ({info['model_type']}, "
          f"scorer {info['scorer']['kind']}); {args.workers} workers each; {os.cpu_count()} cores", flush=True)
    # this API, cache off: every request a miss, with a key and the inference log on
    proc = ours_server(8101, 0, tmp / "log.sqlite")
    row = {"server": "this API (key, log on, cache off)"} | wrk(8101, "/v1/predict", ours, key, args.seconds, script)
    row |= paced(8101, "POST", "/v1/predict", [json.dumps({"records": [r]}).encode() for r in records], key, 100,
                 args.seconds)
    stop(proc)
    results.append(row)
    print(row, flush=True)
    # the cache's gain: 200 records over and over
    few = tmp / "few.jsonl"
    few.write_text("".join(ours.read_text().splitlines(keepends=True)[:200]))
    proc = ours_server(8102, 300, tmp / "log-cached.sqlite")
    row = {"server": "this API, cache on (200 records repeated)"} | wrk(8102, "/v1/predict", few, key, args.seconds, script)
    stop(proc)
    results.append(row)
    print(row, flush=True)
    # mlflow models serve, the same fitted pipeline
    import mlflow.sklearn

    mlflow.sklearn.save_model(model, tmp / "mlflow-model", serialization_format="cloudpickle",
                              pyfunc_predict_fn="predict_proba")
    proc = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", str(tmp / "mlflow-model"), "-p", "8103",
                             "-h", "127.0.0.1", "--env-manager", "local", "-w", str(args.workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(8103, "/ping")
    row = {"server": "mlflow models serve (same model)"} | wrk(8103, "/invocations", theirs, "", args.seconds, script)
    row |= paced(8103, "POST", "/invocations", [json.dumps({"dataframe_records": [r]}).encode() for r in records], "",
                 100, args.seconds)
    stop(proc)
    results.append(row)
    print(row, flush=True)
    # FastAPI hello-world: the ceiling of the stack
    (tmp / "hello.py").write_text(HELLO)
    (tmp / "launch.py").write_text(HELLO_LAUNCH)
    proc = subprocess.Popen([sys.executable, str(tmp / "launch.py"), "8104", str(args.workers), str(tmp)], cwd=ROOT,
                            env=env)
    wait_ready(8104, "/")
    row = {"server": "FastAPI hello-world"} | wrk(8104, "/", None, "", args.seconds, script)
    row |= paced(8104, "GET", "/", [], "", 100, args.seconds)
    stop(proc)
    results.append(row)
    print(row, flush=True)
    if args.soak:
        log = tmp / "log-soak.sqlite"
        proc = ours_server(8105, 0, log)
        load_ = wrk(8105, "/v1/predict", ours, key, args.soak, script)
        scored = scored_count(8105)
        stop(proc)
        rows = len(read_log(f"sqlite:///{log}"))
        ok = load_["requests"] - load_["non_2xx"]
        soak = {"seconds": args.soak, "requests_per_s": load_["requests_per_s"], "answered_2xx": ok,
                "errors": load_["non_2xx"] + load_["socket_errors"], "records_scored_by_server": int(scored),
                "inference_log_rows": rows}
        print("soak:", soak, flush=True)
    ours_rps = results[0]["requests_per_s"]
    ratios = {r["server"]: round(ours_rps / r["requests_per_s"], 2) for r in results[1:]}
    print(f"\n{'server':48} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'@100/s p50':>11} {'@100/s p99':>11} {'errors':>7}")
    for r in results:
        print(f"{r['server']:48} {r['requests_per_s']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r.get('paced_p50_ms', float('nan')):11.2f} {r.get('paced_p99_ms', float('nan')):11.2f} "
              f"{r['non_2xx'] + r['socket_errors']:7d}")
    print("this API's throughput over each:", ratios)
    if not args.no_write:
        out = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} "
                          f"GiB, {platform.machine()}, Python {platform.python_version()}",
               "command": " ".join(["python", "benchmarks/serve.py", *sys.argv[1:]]),
               "load": f"wrk 2 threads / 8 connections / {args.seconds} s; paced 100 req/s, 1 connection; "
                       f"{args.workers} workers per server; model {info['model_version']}",
               "results": results, "throughput_ratio": ratios, "soak": soak}
        cat["serve_benchmark"].parent.mkdir(parents=True, exist_ok=True)
        cat["serve_benchmark"].write_text(json.dumps(out, indent=2) + "\n")
        print(f"written to {cat.relative(cat['serve_benchmark'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
