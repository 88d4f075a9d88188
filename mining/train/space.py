"""Search spaces from params: `{low, high, log, type}` ranges or `{choices: [...]}` per hyper-parameter
(checked when the params are loaded: `mining.param_models.Range`)."""

from __future__ import annotations

import optuna


def suggest(trial: optuna.Trial, space: dict[str, dict]) -> dict:
    """Sample one configuration of `space` (names as in params/train.yaml)."""
    out = {}
    for name, spec in (space or {}).items():
        if "choices" in spec:
            out[name] = trial.suggest_categorical(name, spec["choices"])
        elif spec.get("type") == "int" or (isinstance(spec["low"], int) and isinstance(spec["high"], int)
                                           and spec.get("type") != "float"):
            out[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log")))
        else:
            out[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))
    return out
