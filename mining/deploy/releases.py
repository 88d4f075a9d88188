"""Which model versions serve: the champion, and a challenger in shadow until it is promoted or rejected.

Each released version's bundle is copied to `models/releases/<version>/`, outside the pipeline's
outputs, so a `dvc repro` that builds a challenger into `models/serving` leaves the champion's
bundle as it is. `releases.json` names the champion and the challenger and keeps the history of
every event (released, shadow, promoted, rejected, retired, archived) with its time and reason.
Without that file the pipeline's own bundle is the champion (a project that never retrained).
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

from mining import atomic
from mining.catalog import Catalog, member
from mining.reports import read_json, write_json


class ReleaseError(RuntimeError):
    """A release step that cannot be taken in the current state (named in the message)."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def state(root: Path) -> dict:
    path = Catalog(root)["release_state"]
    return read_json(path) if path.exists() else {"champion": None, "challenger": None, "history": []}


def info(bundle: Path) -> dict:
    """A bundle's description: task, version, threshold, input schema."""
    return read_json(bundle / member("serving_info"))


def version_of(bundle: Path) -> str:
    return info(bundle)["model_version"]


def bundle_dir(root: Path, version: str) -> Path:
    return Catalog(root)["releases"] / version


def champion_dir(root: Path) -> Path:
    """The champion's bundle: its release copy, or the pipeline's bundle before any release."""
    champion = state(root)["champion"]
    return bundle_dir(root, champion) if champion else Catalog(root)["serving"]


def challenger_dir(root: Path) -> Path | None:
    challenger = state(root)["challenger"]
    return bundle_dir(root, challenger) if challenger else None


def keep(root: Path, bundle: Path) -> str:
    """Copy `bundle` to its release folder (once; a version's bundle never changes); its version."""
    version = version_of(bundle)
    dest = bundle_dir(root, version)
    if not dest.exists():
        staging = atomic.staging_dir(dest)
        shutil.copytree(bundle, staging, dirs_exist_ok=True)
        atomic.publish_dir(staging, dest)
    return version


def record(root: Path, st: dict, event: str, version: str, reason: str) -> dict:
    st["history"].append({"at": now(), "event": event, "version": version, "reason": reason})
    write_json(Catalog(root)["release_state"], st)
    return st


def ensure_champion(root: Path) -> str:
    """The champion's version, releasing the pipeline's bundle as champion when none is recorded."""
    st = state(root)
    if st["champion"]:
        return st["champion"]
    serving = Catalog(root)["serving"]
    if not (serving / member("serving_info")).exists():
        raise ReleaseError(f"{Catalog(root).relative(serving)} has no bundle: run the pipeline (`dvc repro`) first")
    version = keep(root, serving)
    st["champion"] = version
    record(root, st, "released", version, "the pipeline's bundle, first champion")
    return version


def start_shadow(root: Path, bundle: Path, reason: str) -> str:
    """Release `bundle` as the challenger, scored in shadow beside the champion."""
    st = state(root)
    version = version_of(bundle)
    if version == st["champion"]:
        raise ReleaseError(f"the new build is model {version}, the champion itself: no challenger to shadow")
    keep(root, bundle)
    if st["challenger"] and st["challenger"] != version:
        record(root, st, "retired", st["challenger"], f"replaced in shadow by {version}")
    st["challenger"] = version
    return record(root, st, "shadow", version, reason)["challenger"]


def promote(root: Path, reason: str) -> dict:
    """The challenger becomes champion; the old champion is retired."""
    st = state(root)
    if not st["challenger"]:
        raise ReleaseError("no challenger to promote")
    old, new = st["champion"], st["challenger"]
    st["champion"], st["challenger"] = new, None
    record(root, st, "promoted", new, reason)
    return record(root, st, "retired", old, f"replaced as champion by {new}")


def reject(root: Path, reason: str) -> dict:
    """The challenger leaves shadow; the champion stays."""
    st = state(root)
    if not st["challenger"]:
        raise ReleaseError("no challenger to reject")
    version, st["challenger"] = st["challenger"], None
    return record(root, st, "rejected", version, reason)


def retired(root: Path) -> list[str]:
    """Versions that no longer serve, oldest retirement first (release folders still on disk)."""
    st = state(root)
    serving = {st["champion"], st["challenger"]}
    order: dict[str, str] = {}
    for event in st["history"]:
        if event["event"] in ("retired", "rejected"):
            order[event["version"]] = event["at"]
        elif event["event"] in ("promoted", "shadow", "released"):
            order.pop(event["version"], None)
    return [v for v, _ in sorted(order.items(), key=lambda kv: kv[1])
            if v not in serving and bundle_dir(root, v).exists()]
