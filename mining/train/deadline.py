"""A wall-clock deadline that boosters honour between rounds.

The search's budget is checked between trials and folds, but one fold of a booster with thousands
of rounds on a large table can outlast what is left; inside `until(deadline)` LightGBM, XGBoost
and CatBoost stop adding rounds once it passes (the model so far is kept). The search runs one
trial at a time in one thread, so one process-wide deadline is enough.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from lightgbm.callback import EarlyStopException
from xgboost.callback import TrainingCallback

_deadline: float | None = None


@contextmanager
def until(deadline: float | None) -> Iterator[None]:
    """Boosters fitted inside stop adding rounds at `deadline` (time.monotonic())."""
    global _deadline
    before, _deadline = _deadline, deadline
    try:
        yield
    finally:
        _deadline = before


def passed() -> bool:
    return _deadline is not None and time.monotonic() > _deadline


def lightgbm_stop(env) -> None:
    if passed():
        raise EarlyStopException(env.iteration, env.evaluation_result_list)


class XGBoostStop(TrainingCallback):
    def after_iteration(self, model, epoch, evals_log) -> bool:
        return passed()


class CatBoostStop:
    def after_iteration(self, info) -> bool:
        return not passed()
