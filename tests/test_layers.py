"""The layering contract (pyproject.toml, import-linter): the core imports no stage, and a stage
imports only earlier stages."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(project: Path) -> subprocess.CompletedProcess:
    """lint-imports on the `mining` package under `project`, with that project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=project, env=env, capture_output=True, text=True)


def test_the_code_keeps_its_layers():
    proc = lint(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "3 kept, 0 broken" in proc.stdout


def planted(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess:
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "mining", copy / "mining", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    path = copy / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}\n")
    return lint(copy)


def test_the_core_importing_a_stage_is_refused(tmp_path):
    proc = planted(tmp_path, "mining.stats", "import mining.monitor.decision")
    assert proc.returncode != 0
    assert "mining.stats is not allowed to import mining.monitor" in proc.stdout


def test_a_stage_importing_a_later_stage_is_refused(tmp_path):
    proc = planted(tmp_path, "mining.features.store", "from mining.monitor import findings")
    assert proc.returncode != 0
    assert "mining.features is not allowed to import mining.monitor" in proc.stdout


def test_govern_importing_deploy_is_refused(tmp_path):
    """Govern runs before deploy: an import the lifecycle order alone would allow."""
    proc = planted(tmp_path, "mining.govern.approval", "from mining.deploy import bundle")
    assert proc.returncode != 0
    assert "mining.govern is not allowed to import mining.deploy" in proc.stdout
