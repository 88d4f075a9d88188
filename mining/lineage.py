"""Lineage facts recorded with every model: code version and content hashes of its data."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

CODE_AND_PARAMS = ("mining", "notebooks", "params", "dvc.yaml", "pyproject.toml", "requirements.lock")


def git_commit(root: Path) -> dict:
    """HEAD's commit and whether the code or params differ from it (None outside a git checkout).

    Only what decides a run counts: `dvc.lock` and other files a run rewrites do not make it dirty."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", *CODE_AND_PARAMS)
    return {"commit": commit, "dirty": bool(dirty) if dirty is not None else None}


def content_hash(path: Path) -> str:
    """sha256 of a file, or of a directory's files (relative names and contents, sorted)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
