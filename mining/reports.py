"""Writing what a stage leaves behind: metrics JSON, small JSON/HTML artefacts, inline figures, and
tables and pages formatted for a reviewer (three significant figures, no index column, a table of
contents, anchors that the curriculum map links to)."""

from __future__ import annotations

import base64
import io
import json
import math
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mining import atomic
from mining.catalog import Catalog
from mining.secrets import redact, redact_text

if TYPE_CHECKING:
    from jinja2 import Environment
    from pandas.io.formats.style import Styler


@cache
def _templates() -> Environment:
    """The package's templates, loaded on the first render: jinja2 and BeautifulSoup are imported
    by the processes that write reports, not by every one that writes a JSON file (0.1 s)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("mining", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["fmt"] = lambda x, spec="%.3f": "–" if x is None else spec % x  # a missing figure as a dash
    env.filters["num"] = number  # the same figures in templates as in notebook tables
    return env


def json_safe(obj: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None (DVC metrics must parse)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: Path, obj: Any) -> Path:
    """Credentials masked (mining.secrets), written atomically: every JSON artefact goes through here."""
    return atomic.write_text(path, json.dumps(redact(json_safe(obj)), indent=2, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def write_metrics(root: Path, stage: str, metrics: dict) -> None:
    """The stage's DVC metrics file (returns nothing: it is a notebook's last line)."""
    write_json(Catalog(root).metrics(stage), metrics)


def read_metrics(root: Path, stages: list[str]) -> dict[str, dict]:
    """Metrics of the stages given, as their notebooks wrote them."""
    return {stage: read_json(Catalog(root).metrics(stage)) for stage in stages}


def figure_data_uri(fig) -> str:
    """A matplotlib figure as an inline PNG data URI (reports must open offline)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def render(template: str, path: Path, **context) -> Path:
    """Render a package template (mining/templates) to `path`, with its table of contents."""
    return atomic.write_text(path, redact_text(with_contents(_templates().get_template(template).render(**context))))


def render_text(template: str, path: Path, **context) -> Path:
    """Render a package template to a plain-text file (Markdown): no table of contents, no escaping."""
    return atomic.write_text(path, redact_text(_templates().get_template(template).render(**context)))


_DECIMAL = re.compile(r"^-?\d+\.\d+$")


def number(x: Any) -> str:
    """A number as a reviewer reads it: three significant figures, thousands separated, no
    scientific notation between 0.001 and a billion; missing values as a dash."""
    if x is None or (isinstance(x, (float, np.floating)) and not math.isfinite(x)):
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{x:,}"
    if isinstance(x, str) and _DECIMAL.match(x):  # a number carried as text (a profile's mixed-type column)
        x = float(x)
    if not isinstance(x, (float, np.floating)):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) >= 1000 or float(x).is_integer():
        return f"{x:,.0f}"
    if abs(x) < 0.001:
        return f"{x:.2e}"
    return f"{x:.3g}"


def table(df: pd.DataFrame | pd.Series, index: bool = False) -> Styler:
    """A frame for a report: numbers through `number`, no index column (`index=True` turns a labelling
    index into the first column), headers that wrap between words."""
    frame = df.to_frame() if isinstance(df, pd.Series) else df
    if index:
        frame = frame.reset_index()
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c).replace("_", " ") for c in frame.columns]  # headers wrap between words
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    return (frame.style.format(number).hide(axis="index").set_table_attributes('class="t"')
            .set_properties(subset=text, **{"text-align": "left"}))


def html_table(df: pd.DataFrame) -> str:
    """`table` as an HTML string (for the model card and the index page)."""
    return table(df).to_html()


def slug(text: str) -> str:
    """A heading's anchor: lower case, words joined by hyphens (stable across runs)."""
    words = "".join(c.lower() if c.isalnum() else " " for c in text).split()
    return "-".join(words)


def with_contents(html: str) -> str:
    """A report page with anchors on its section headings (slugs of their text) and a table of
    contents under its title; nbconvert's own heading ids carry the text verbatim, so they are
    replaced, and its pilcrow links with them."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    headings = soup.find_all(["h2", "h3"])
    for a in soup.select("a.anchor-link"):
        a.decompose()
    for h in soup.find_all(["h1", "h2", "h3"]):
        h["id"] = slug(h.get_text(" ", strip=True))
    title = soup.find("h1")
    if title is not None and headings:
        nav = soup.new_tag("nav", attrs={"class": "toc"})
        nav.append(soup.new_tag("b"))
        nav.b.string = "Contents"
        items = soup.new_tag("ol")
        sections = 0
        for h in headings:
            li = soup.new_tag("li", attrs={"class": h.name})
            if h.name == "h2":  # numbered by section: the sub-sections between do not count
                sections += 1
                li["value"] = str(sections)
            link = soup.new_tag("a", href=f"#{h['id']}")
            link.string = h.get_text(" ", strip=True)
            li.append(link)
            items.append(li)
        nav.append(items)
        if title.parent.name == "body":  # a page of our own: right under the title
            title.insert_after(nav)
        else:  # a notebook: after the title cell's introduction
            title.parent.append(nav)
    return str(soup)
