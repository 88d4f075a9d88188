"""One writer per output at a time: `mining run STAGE`, `mining stream` and the schema registry
hold a file lock (filelock) while they write, and record who holds it so a second run can say so.

Locks are advisory, held by the process (released when it exits, even when killed), and live in
the catalog's lock folder or beside the file they guard.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout


class Busy(RuntimeError):
    """Another process holds the lock."""


def lock_for(guarded: Path) -> Path:
    """The lock of a file or folder that must not get lock files of its own (a DVC output): one per
    resolved path, in the machine's temporary folder."""
    key = hashlib.sha1(str(Path(guarded).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "mining-locks" / f"{key}.lock"


@contextlib.contextmanager
def held(path: Path, what: str, wait_s: float = 0) -> Iterator[None]:
    """Hold the lock at `path` (waiting up to `wait_s`); else raise Busy naming `what` and the holder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = path.with_name(path.name + ".pid")
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=wait_s)
    except Timeout:
        pid = owner.read_text().strip() if owner.exists() else "unknown"
        raise Busy(f"{what} is already running (pid {pid}); wait for it to finish") from None
    try:
        owner.write_text(str(os.getpid()))
        yield
    finally:
        owner.unlink(missing_ok=True)
        lock.release()
