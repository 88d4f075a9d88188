"""Writing what a stage leaves behind: metrics JSON, small JSON/HTML artefacts, inline figures."""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(loader=PackageLoader("mining", "templates"), autoescape=select_autoescape(["html"]))


def _clean(obj: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None (DVC metrics must parse)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(obj), indent=2, default=str) + "\n")
    return path


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def write_metrics(root: Path, stage: str, metrics: dict) -> None:
    """`metrics/<stage>.json`, the stage's DVC metric (returns nothing: it is a notebook's last line)."""
    write_json(root / "metrics" / f"{stage}.json", metrics)


def figure_data_uri(fig) -> str:
    """A matplotlib figure as an inline PNG data URI (reports must open offline)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def render(template: str, path: Path, **context) -> Path:
    """Render a package template (mining/templates) to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_env.get_template(template).render(**context))
    return path
