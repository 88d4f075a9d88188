"""A throwaway copy of this project (pipeline, notebooks, params) in its own git + DVC repo.

Used by the end-to-end tests and the benchmarks to run the real pipeline on other data or sizes
without touching the working copy's outputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from mining.tools import run

COPIED = ("dvc.yaml", ".dvcignore", "params", "notebooks", "mining", "benchmarks/results")


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


def make_sandbox(dest: Path, source: Path) -> Path:
    """Copy the project at `source` to `dest`: a git + DVC repository with one commit (the baseline
    that `dvc exp run` needs)."""
    dest.mkdir(parents=True)
    for item in COPIED:
        src = source / item
        (dest / item).parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        else:
            shutil.copy(src, dest / item)
    run(["git", "init", "-q"], dest)
    run(["dvc", "init", "-q"], dest)
    run(["dvc", "config", "core.analytics", "false"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "-c", "user.name=sandbox", "-c", "user.email=sandbox@localhost", "commit", "-qm", "sandbox"], dest)
    return dest
