"""Shared fixtures: a tiny copy of the project for end-to-end runs."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

# A share of the cores per test worker, for this process and the stages it starts: OpenMP pools
# (scikit-learn's HistGradientBoosting, LightGBM, XGBoost) sized for the whole machine spin against
# each other's workers (with two stages side by side, HistGradientBoosting took 22 s on 1,125 rows).
# Set in the xdist workers only (the controller's environment is theirs too); a limit already in the
# environment is kept.
THREADS = str(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
if "PYTEST_XDIST_WORKER" in os.environ:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, THREADS)

import nbformat  # after the thread limits: OpenBLAS reads them when numpy loads
import pytest
import sqlalchemy as sa

from mining.sandbox import make_sandbox, run, set_params

ROOT = Path(__file__).resolve().parents[1]


def params_root(tmp_path: Path) -> Path:
    """A project root with this checkout's params only: stage functions run there write nothing here."""
    root = tmp_path / "params_root"
    if not root.exists():
        shutil.copytree(ROOT / "params", root / "params")
        shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    return root


def make_project(dest: Path) -> Path:
    """A sandbox copy of this checkout at tiny demo size with a short model search."""
    make_sandbox(dest, ROOT)
    set_params(dest, "data", {"demo.n_customers": 1500, "demo.events_per_month": 2.0})
    set_params(dest, "train", {"validation.folds_below_rows": {10000: 3}, "time_budget_s": 20, "n_trials": 3,
                               "n_jobs": int(THREADS),
                               "pruning.budget_share": 0.25, "pruning.shap_sample": 300,
                               "automl_reference.budget_s": 5})
    set_params(dest, "evaluate", {"shap_sample": 200, "n_boot": 100})
    set_params(dest, "deploy", {"latency_requests": 20})
    # six weeks of traffic at 60 records a day, the shift from the fourth week's Thursday
    set_params(dest, "monitor", {"traffic.days": 42, "traffic.start_day": 21, "traffic.per_day": 60})
    # a 1,500-customer demo has ~375 holdout rows: judge groups on fewer positives than the default; its
    # 20 s search, sharing the CPUs with another test worker, reaches an out-of-fold precision of about
    # 0.39-0.45 at the operating point, so the floor sits below that spread (0.4 failed a run at 0.3947).
    # The two age bands large enough to judge hold 12 and 18 of the holdout's 47 positives: one missed
    # positive moves a band's false-negative rate by 0.06-0.08, and equally good models measured 0.14
    # and (a CI run) 0.33, so the charter's 0.2 would gate sampling noise here; the tests of that gate
    # set their own limit (the Telco run keeps 0.2)
    set_params(dest, "project", {"kpis.min_group_positives": 10, "kpis.min_precision": 0.35,
                                 "kpis.max_equalized_odds_difference": 0.6})
    run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qam", "tiny demo"], dest)
    return dest


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def _demo_folder(tmp_path_factory) -> Path:
    """Where the tiny demo is built: the run's folder shared by the xdist workers, or this session's."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "built_demo"


def _build_demo(folder: Path) -> None:
    try:
        run(["dvc", "repro"], make_project(folder / "project"))
        (folder / "built").touch()
    except BaseException as exc:
        (folder / "failed").write_text(f"{type(exc).__name__}: {exc}")
        raise


@pytest.fixture(scope="session", autouse=True)
def demo_build(request, tmp_path_factory) -> None:
    """When a collected test needs the built demo, the first worker to start claims its build and runs
    it in a background thread (the work is `dvc repro` in subprocesses) while tests go on: one build
    per run; a worker that needs it sooner waits for it (`built_demo`)."""
    if not any("built_demo" in item.fixturenames for item in request.session.items):
        return
    folder = _demo_folder(tmp_path_factory)
    try:
        folder.mkdir()  # the claim: only one worker creates it
    except FileExistsError:
        return
    threading.Thread(target=_build_demo, args=(folder,), name="tiny demo build", daemon=True).start()


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory, demo_build) -> Path:
    """One tiny demo project with the whole pipeline run (`dvc repro`), built once per test run
    (`demo_build`): the end-to-end tests that start from a reproduced demo copy it instead of each
    paying for the run."""
    folder, deadline = _demo_folder(tmp_path_factory), time.monotonic() + 3600
    while not (folder / "built").exists():
        if (folder / "failed").exists():
            pytest.fail(f"the tiny demo's build failed: {(folder / 'failed').read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"the tiny demo's build in {folder} did not finish within an hour")
        time.sleep(1)
    return folder / "project"


@pytest.fixture
def reproduced_demo(built_demo: Path, tmp_path: Path) -> Path:
    """A private copy of the built tiny demo (code, params, git, DVC cache and every output)."""
    dest = tmp_path / "project"
    shutil.copytree(built_demo, dest, symlinks=True)
    return dest


def server_url(name: str, env: str, default: str, port: int) -> str:
    """A local server's URL from $env or `default`; the test is skipped when it is unreachable,
    except under CI, where it fails."""
    url = os.environ.get(env, default)
    u = sa.engine.make_url(url.replace("redis://", "redis+x://", 1))  # SQLAlchemy parses any scheme://host:port
    try:
        socket.create_connection((u.host, u.port or port), timeout=1).close()
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not reachable at {u.host}:{u.port or port}, and CI must run this test")
        pytest.skip(f"{name} is not reachable at {u.host}:{u.port or port} (set {env})")
    return url


@pytest.fixture
def postgres_url() -> str:
    """The local PostgreSQL (trust auth, database test)."""
    return server_url("PostgreSQL", "MINING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test",
                      5432)


@pytest.fixture
def redis_url() -> str:
    """The local Redis."""
    return server_url("Redis", "MINING_TEST_REDIS_URL", "redis://127.0.0.1:6379/0", 6379)


def notebook(*sources: str, params: str = "overrides = {}") -> nbformat.NotebookNode:
    """A stage notebook: the `parameters` cell, then one code cell per source, on the project's kernel."""
    cells = [nbformat.v4.new_code_cell(params)]
    cells[0].metadata["tags"] = ["parameters"]
    cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "mining", "display_name": "Python (mining)", "language": "python"}
    return nb


@pytest.fixture
def stage_project(tmp_path: Path) -> Path:
    """A bare project (params, an empty dvc.yaml, a notebooks folder) to run one stage notebook in."""
    (tmp_path / "notebooks").mkdir()
    shutil.copytree(ROOT / "params", tmp_path / "params")
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    return tmp_path
