"""Writing artefacts so that a reader sees the old version or the new one, never half of one.

Files: written to a temporary file in the same folder, flushed to disk, then `os.replace`d over the
target (atomic on POSIX). Folders (ingest's output, the serving bundle): built under a staging
name, then exchanged with the live folder in one `renameat2(RENAME_EXCHANGE)` call where Linux
offers it, so there is no moment without a folder; elsewhere the old folder is renamed aside
first (a window of one rename). A killed writer leaves the previous artefact whole.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to (by any library); it replaces `path` on success
    and is removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def save(path: Path, write: Callable[[Path], object]) -> Path:
    """`write(tmp)` by any library (`df.to_parquet`, `joblib.dump`), then the file replaces `path`."""
    with writing(path) as tmp:
        write(tmp)
    return Path(path)


def write_bytes(path: Path, data: bytes) -> Path:
    with writing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def staging_dir(target: Path) -> Path:
    """A fresh, unique folder beside `target` to build its next version in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the call is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def publish_dir(staging: Path, target: Path) -> Path:
    """Make the folder built in `staging` the live `target`; the previous version is removed after."""
    staging, target = Path(staging), Path(target)
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging)  # now holds the previous version
    else:
        aside = target.with_name(f".{target.name}.old")
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(target, aside)
        os.rename(staging, target)
        shutil.rmtree(aside)
    _fsync_dir(target.parent)
    return target
