"""The project's command-line tools (dvc, mining) run as subprocesses with this interpreter's
environment first on PATH: DVC runs stage commands from PATH, so a `dvc repro` started from the
virtual environment must find its `mining`, not another one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run `cmd` in `cwd` (the project it belongs to: no inherited MINING_PROJECT_ROOT), output captured;
    a non-zero exit raises with the output's tail when `check`."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MINING_PROJECT_ROOT", None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc
