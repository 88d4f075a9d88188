"""Shared fixtures: a tiny copy of the project for end-to-end runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mining.sandbox import make_sandbox, set_params

ROOT = Path(__file__).resolve().parents[1]


def make_project(dest: Path) -> Path:
    """A sandbox copy of this checkout at tiny demo size with a short model search."""
    make_sandbox(dest, ROOT)
    set_params(dest, "data", {"demo.n_customers": 1500, "demo.events_per_month": 2.0})
    set_params(dest, "train", {"cv_folds": 3, "time_budget_s": 15, "n_trials": 3})
    set_params(dest, "evaluate", {"shap_sample": 200})
    set_params(dest, "deploy", {"latency_requests": 20})
    # a 1,500-customer demo has ~375 holdout rows: judge groups on fewer positives than the default
    set_params(dest, "project", {"kpis.min_group_positives": 10, "kpis.min_precision": 0.4})
    return dest


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")
