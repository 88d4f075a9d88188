"""Charter gates: a breach stops the stage with the threshold, the measured value and where to look."""

from __future__ import annotations

import operator

OPS = {">=": operator.ge, "<=": operator.le}


class GateError(AssertionError):
    """A charter threshold was breached."""


def gate(name: str, measured: float, op: str, threshold: float | None, where: str) -> dict:
    """Record one gate; the caller raises with `enforce` once all gates of a stage are collected."""
    if threshold is None:
        return {"gate": name, "measured": measured, "op": op, "threshold": None, "passed": True, "where": where}
    return {"gate": name, "measured": float(measured), "op": op, "threshold": float(threshold),
            "passed": bool(OPS[op](measured, threshold)), "where": where}


def failed(results: list[dict]) -> list[str]:
    """The names of the gates that did not pass."""
    return [r["gate"] for r in results if not r["passed"]]


def enforce(results: list[dict]) -> None:
    """Raise GateError naming every breached gate."""
    failed = [r for r in results if not r["passed"]]
    if failed:
        lines = [f"{r['gate']}: measured {r['measured']:.4g}, required {r['op']} {r['threshold']:.4g} "
                 f"(see {r['where']})" for r in failed]
        raise GateError("charter gate breached:\n  " + "\n  ".join(lines))
