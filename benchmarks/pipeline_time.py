"""Wall time of each stage of the pipeline at the params' data size (default: the 20k-customer demo).

Usage: .venv/bin/python benchmarks/pipeline_time.py [--set FILE.KEY=VALUE ...]
Runs every stage in order with `mining run` in this checkout (outputs overwritten), then prints
one line per stage and the total. `dvc repro` adds about a second of its own on top.
"""

from __future__ import annotations

import argparse
import platform
import time

from mining.params import load_params, parse_override, project_root
from mining.runner import run_stage, write_stripped
from mining.stages import STAGES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    root = project_root()
    overrides = dict(parse_override(o) for o in args.overrides)
    params = load_params(overrides, root)
    write_stripped(root)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}; "
          f"demo n_customers={params['data']['demo']['n_customers']}, source={params['data']['source']}")
    total = 0.0
    for stage in STAGES:
        t0 = time.perf_counter()
        run_stage(stage, root, overrides)
        dt = time.perf_counter() - t0
        total += dt
        print(f"{stage:<11} {dt:7.1f} s")
    print(f"{'total':<11} {total:7.1f} s")


if __name__ == "__main__":
    main()
