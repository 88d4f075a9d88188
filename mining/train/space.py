"""Search spaces from params: `{low, high, log, type}` ranges or `{choices: [...]}` per hyper-parameter."""

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


def validate_space(candidate: str, space: dict[str, dict]) -> None:
    """Refuse a malformed space before any trial runs, naming the candidate and key."""
    for name, spec in (space or {}).items():
        where = f"params/train.yaml: candidates.{candidate}.space.{name}"
        if not isinstance(spec, dict) or not ("choices" in spec or {"low", "high"} <= set(spec)):
            raise ValueError(f"{where}: expected {{low, high[, log, type]}} or {{choices: [...]}}, got {spec!r}")
        if "choices" not in spec and not float(spec["low"]) < float(spec["high"]):
            raise ValueError(f"{where}: low {spec['low']} must be below high {spec['high']}")
        if spec.get("log") and "choices" not in spec and float(spec["low"]) <= 0:
            raise ValueError(f"{where}: a log scale needs low > 0")
