"""Shared fixtures: a tiny copy of the project for end-to-end runs, and small demo data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def set_params(root: Path, name: str, updates: dict) -> None:
    """Change keys of params/NAME.yaml (dotted keys for nested ones) in a project copy."""
    path = root / "params" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    for dotted, value in updates.items():
        node = data
        *parents, last = dotted.split(".")
        for k in parents:
            node = node[k]
        node[last] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MINING_PROJECT_ROOT", None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def make_project(dest: Path) -> Path:
    """A git + DVC project with this checkout's pipeline, notebooks and params, at tiny demo size."""
    dest.mkdir(parents=True)
    for item in ("dvc.yaml", ".dvcignore", "params", "notebooks", "mining"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy(src, dest / item)
    run(["git", "init", "-q"], dest)
    run(["dvc", "init", "-q"], dest)
    run(["dvc", "config", "core.analytics", "false"], dest)
    set_params(dest, "data", {"demo.n_customers": 1500, "demo.events_per_month": 2.0})
    set_params(dest, "train", {"cv_folds": 3, "time_budget_s": 30, "candidates.lightgbm.n_estimators": 60,
                               "candidates.xgboost.n_estimators": 60})
    set_params(dest, "evaluate", {"shap_sample": 200})
    set_params(dest, "deploy", {"latency_requests": 20})
    # a 1,500-customer demo has ~375 holdout rows: judge groups on fewer positives than the default
    set_params(dest, "project", {"kpis.min_group_positives": 10, "kpis.min_precision": 0.4})
    return dest


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")
