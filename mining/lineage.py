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
    if not path.is_dir():
        h = file_hasher(path)
        _feed(h, path)
        return h.hexdigest()
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        _feed(h, f)
    return h.hexdigest()


def file_hasher(path: Path):
    """The sha256 `content_hash(path)` of a file computes, before the file's bytes: a reader that has them
    in hand feeds them to it (`update`, in order) instead of reading the file a second time."""
    return hashlib.sha256(path.name.encode())


def _feed(h, path: Path) -> None:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
