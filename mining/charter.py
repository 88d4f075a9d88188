"""Reading the charter that stage 01 writes, and the one way the task type is read from it.

Every stage, the runner and the model artefacts take the task from `task_of(charter)`; the
artefacts record it (model metadata, serving bundle) so that a process without the charter (the
API) reads the same value through `task_of` too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from mining.catalog import Catalog
from mining.reports import read_json

Task = Literal["classification", "segmentation"]
TASKS: tuple[Task, ...] = ("classification", "segmentation")
CLASSIFICATION: Task = "classification"
SEGMENTATION: Task = "segmentation"


class CharterError(ValueError):
    """The charter is missing or names a task this lab does not run."""


def load_charter(root: Path) -> dict:
    path = Catalog(root)["charter"]
    if not path.exists():
        raise CharterError(f"{Catalog(root).relative(path)} does not exist: run the scope stage first "
                           "(`mining run scope` or `dvc repro scope`)")
    return read_json(path)


def task_of(record: dict) -> Task:
    """The task of a charter, model metadata or serving bundle (all carry it as `task`)."""
    task = record["task"]["type"] if isinstance(record.get("task"), dict) else record.get("task")
    if task not in TASKS:
        raise CharterError(f"task {task!r}: expected one of {TASKS}")
    return task


def charter_task(root: Path) -> Task:
    """The task the scope stage decided (classification until there is a charter)."""
    return task_of(load_charter(root)) if Catalog(root)["charter"].exists() else CLASSIFICATION
