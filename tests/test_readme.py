"""The README's commands work as written in a fresh shell (one without the project's environment)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mining.catalog import report

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- tests/test_readme.py runs this block as written, in a fresh shell -->\s*```bash\n(.*?)```",
                   re.DOTALL)


def fresh_shell_env() -> dict[str, str]:
    """This machine's environment without the project's virtual environment on PATH."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MINING_PROJECT_ROOT")}
    return {**env, "PATH": path}


def test_the_readme_has_the_tested_block():
    assert BLOCK.search((ROOT / "README.md").read_text())


@pytest.mark.e2e
def test_readme_commands_run_as_written_after_make_repro(reproduced_demo):
    root = reproduced_demo  # after `dvc repro`
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])  # what `make repro` leaves in a checkout
    script = BLOCK.search((ROOT / "README.md").read_text()).group(1)
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=root, env=fresh_shell_env(), capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"train: report {report('train')}" in proc.stdout and "Reproducing experiment" in proc.stdout
    without = subprocess.run(["bash", "-c", script.split("\n", 1)[1]], cwd=root, env=fresh_shell_env(),
                             capture_output=True, text=True)
    assert without.returncode != 0  # the activation line is what makes them work
