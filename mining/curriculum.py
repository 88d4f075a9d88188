"""The curriculum map: where this lab does each of the 63 practices, how far, and which report shows it.

The map is data (`curriculum.yaml` beside this file); the index page renders it and a test keeps
its function names and report anchors true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

STATUSES = ("implemented", "partial", "not yet")
MAP = Path(__file__).with_name("curriculum.yaml")


@dataclass(frozen=True)
class Practice:
    id: str  # module.position, e.g. "5.3"
    name: str
    status: str
    functions: list[str] = field(default_factory=list)  # dotted paths: mining.module.attribute
    anchor: str | None = None  # report.html#section
    note: str = ""
    gap: str = ""

    @property
    def module(self) -> int:
        return int(self.id.split(".")[0])


@cache
def load() -> tuple[dict[int, str], tuple[Practice, ...]]:
    raw = yaml.safe_load(MAP.read_text())
    return {int(k): v for k, v in raw["modules"].items()}, tuple(Practice(**p) for p in raw["practices"])


def by_module() -> list[dict]:
    """Modules in order, each with its practices (what the index page renders)."""
    modules, practices = load()
    return [{"number": n, "title": title, "practices": [p for p in practices if p.module == n]}
            for n, title in modules.items()]


def counts() -> dict[str, int]:
    _, practices = load()
    return {s: sum(p.status == s for p in practices) for s in STATUSES}
