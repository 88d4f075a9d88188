"""Which model versions serve: the champion, and a challenger in shadow until it is promoted or rejected.

The state lives in the MLflow model registry (`mining.deploy.registry`): the aliases `champion`
and `challenger` point at registered versions, and each version's history tag keeps its events
(registered, released, shadow, promoted, retired, rejected, rolled back, restored, archived) with
time and reason. A version serves from `models/releases/<version>/`, fetched from the registry and
checked against the sha256 registered with it, so a `dvc repro` that builds a new bundle into
`models/serving` leaves the champion's as it is. The alias moves forward only for a version whose
evaluation gates passed, whose governance approval holds and (for a high-risk use case) that the
review board signed off. Before any release the pipeline's own bundle is the champion.
"""

from __future__ import annotations

from pathlib import Path

from mining.catalog import Catalog, member
from mining.deploy.bundle import NotApproved, board_sign_off, check_approval
from mining.deploy.registry import CHALLENGER, CHAMPION, Registry, RegistryError, open_registry
from mining.gates import failed
from mining.reports import read_json

ReleaseError = RegistryError
OUT_OF_SERVICE = ("retired", "rejected", "rolled back", "archived")  # events after which a version no longer serves


def info(bundle: Path) -> dict:
    """A bundle's description: task, version, threshold, input schema."""
    return read_json(bundle / member("serving_info"))


def version_of(bundle: Path) -> str:
    return info(bundle)["model_version"]


def bundle_dir(root: Path, version: str) -> Path:
    return Catalog(root)["releases"] / version


def _model(reg: Registry, alias: str) -> str | None:
    number = reg.alias(alias)
    return reg.tags(number)["model_version"] if number else None


def state(root: Path) -> dict:
    """The champion's and the challenger's model versions and every version's events, oldest first."""
    reg = open_registry(root)
    history = sorted((e for n in reg.numbers() for e in reg.history(n)), key=lambda e: e["at"])
    return {"champion": _model(reg, CHAMPION), "challenger": _model(reg, CHALLENGER), "history": history}


def champion_dir(root: Path) -> Path:
    """The champion's bundle (fetched and hash-checked), or the pipeline's bundle before any release."""
    return served_dir(root, CHAMPION)


def challenger_dir(root: Path) -> Path | None:
    reg = open_registry(root)
    number = reg.alias(CHALLENGER)
    return reg.fetch(number) if number else None


def served_dir(root: Path, ref: str) -> Path:
    """The bundle of `ref` (an alias, a registry number or a model version), fetched and hash-checked;
    the pipeline's bundle when `ref` is the champion and none is registered yet."""
    reg = open_registry(root)
    if ref == CHAMPION and reg.alias(CHAMPION) is None:
        return Catalog(root)["serving"]
    return reg.fetch(reg.resolve(ref))


def keep(root: Path, bundle: Path, reason: str) -> tuple[Registry, str, Path]:
    """Register `bundle` (once per model version) and keep its release copy; the registry, the
    version's number and its checked release folder."""
    reg = open_registry(root)
    number = reg.register(bundle, reason)
    return reg, number, reg.keep_local(number, bundle)


def record(root: Path, event: str, version: str, reason: str) -> dict:
    """Add an event to the history of model `version`."""
    reg = open_registry(root)
    return reg.record(reg.resolve(version), event, reason)


def ensure_champion(root: Path) -> str:
    """The champion's version, releasing the pipeline's bundle as champion when none is registered."""
    reg = open_registry(root)
    if reg.alias(CHAMPION):
        return _model(reg, CHAMPION)
    serving = Catalog(root)["serving"]
    if not (serving / member("serving_info")).exists():
        raise ReleaseError(f"{Catalog(root).relative(serving)} has no bundle: run the pipeline (`dvc repro`) first")
    reg, number, kept = keep(root, serving, "built by the pipeline")
    promotable(root, kept)
    reg.set_alias(CHAMPION, number)
    reg.record(number, "released", "the pipeline's bundle, first champion")
    return reg.tags(number)["model_version"]


def start_shadow(root: Path, bundle: Path, reason: str) -> str:
    """Release `bundle` as the challenger, scored in shadow beside the champion."""
    reg = open_registry(root)
    version = version_of(bundle)
    if version == _model(reg, CHAMPION):
        raise ReleaseError(f"the new build is model {version}, the champion itself: no challenger to shadow")
    reg, number, _ = keep(root, bundle, "built by the pipeline")
    old = reg.alias(CHALLENGER)
    if old and old != number:
        reg.record(old, "retired", f"replaced in shadow by {version}")
    reg.set_alias(CHALLENGER, number)
    reg.record(number, "shadow", reason)
    return version


def promotable(root: Path, bundle: Path) -> dict:
    """The checks a version passes before it may serve: every evaluation gate passed, the governance
    approval holds for it, and the review board signed it off where the use case is high-risk
    (ReleaseError naming what failed)."""
    version = version_of(bundle)
    approval = read_json(bundle / member("serving_approval"))
    broken = failed(approval.get("evaluation_gates") or [])
    if broken:
        raise ReleaseError(f"model {version} failed its evaluation gates {broken}: not promoted")
    try:
        check_approval(approval, version, f"model {version}'s bundle")
        return board_sign_off(root, version, info(bundle).get("model_card_sha256", ""), approval.get("reviewers") or [])
    except NotApproved as exc:
        raise ReleaseError(f"{exc}: not promoted") from exc


def promote(root: Path, reason: str, version: str | None = None) -> dict:
    """The challenger (or the registered `version`) becomes champion once `promotable`; the old champion
    is retired. The events added."""
    reg = open_registry(root)
    number = reg.resolve(version) if version else reg.alias(CHALLENGER)
    if number is None:
        raise ReleaseError("no challenger to promote")
    old = reg.alias(CHAMPION)
    if number == old:
        raise ReleaseError(f"model {reg.tags(number)['model_version']} is the champion already")
    promotable(root, reg.fetch(number))
    new_version = reg.tags(number)["model_version"]
    reg.set_alias(CHAMPION, number)
    if reg.alias(CHALLENGER) == number:
        reg.set_alias(CHALLENGER, None)
    old_version = reg.tags(old)["model_version"] if old else ""
    events = [reg.record(number, "promoted", reason, previous=old_version)]
    if old:
        events.append(reg.record(old, "retired", f"replaced as champion by {new_version}"))
    return {"champion": new_version, "previous": old_version or None, "events": events}


def reject(root: Path, reason: str) -> dict:
    """The challenger leaves shadow; the champion stays."""
    reg = open_registry(root)
    number = reg.alias(CHALLENGER)
    if number is None:
        raise ReleaseError("no challenger to reject")
    reg.set_alias(CHALLENGER, None)
    return reg.record(number, "rejected", reason)


def rollback(root: Path, reason: str) -> dict:
    """The champion before the current one serves again (its bundle re-fetched and re-checked if
    it was archived); the current one is marked rolled back."""
    reg = open_registry(root)
    current = reg.alias(CHAMPION)
    if current is None:
        raise ReleaseError("no champion in the registry: nothing to roll back")
    promoted = [e for e in reg.history(current) if e["event"] in ("promoted", "restored")]
    previous = promoted[-1].get("previous") if promoted else None
    if not previous:
        raise ReleaseError(f"champion {reg.tags(current)['model_version']} has no previous champion to roll back to")
    number = reg.resolve(previous)
    reg.fetch(number)
    reg.set_alias(CHAMPION, number)
    current_version = reg.tags(current)["model_version"]
    reg.record(current, "rolled back", reason)
    back = [e for e in reg.history(number) if e["event"] in ("promoted", "restored")]
    restored = reg.record(number, "restored", f"rollback from {current_version}: {reason}",
                          previous=back[-1].get("previous", "") if back else "")
    return {"champion": previous, "rolled_back": current_version, "event": restored}


def archive(root: Path, version: str, reason: str) -> dict:
    """Take a version that does not serve out of use: its aliases none, its status archived."""
    reg = open_registry(root)
    number = reg.resolve(version)
    if number in (reg.alias(CHAMPION), reg.alias(CHALLENGER)):
        raise ReleaseError(f"model {reg.tags(number)['model_version']} serves (champion or challenger): "
                           "promote or reject first")
    return reg.record(number, "archived", reason)


def retired(root: Path) -> list[str]:
    """Versions that no longer serve (their latest event took them out), oldest first, whose release
    folders are still on disk."""
    reg = open_registry(root)
    serving = {reg.alias(CHAMPION), reg.alias(CHALLENGER)}
    latest = [reg.history(n)[-1] for n in reg.numbers() if n not in serving]
    return [e["version"] for e in sorted(latest, key=lambda e: e["at"])
            if e["event"] in OUT_OF_SERVICE and bundle_dir(root, e["version"]).exists()]
