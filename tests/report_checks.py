"""What a reviewer expects of every rendered report, asserted on a pipeline run's `reports/`."""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup

from mining.catalog import ARTEFACTS, Catalog
from mining.curriculum import load
from mining.stages import STAGES

LOG_LINE = re.compile(r"^\s*(?:\d{4}[-/]\d\d[-/]\d\d[ T][\d:,.]+\s+)?(?:DEBUG|INFO|WARNING)\b"
                      r"|\b(?:INFO|WARNING)\s+\[?[\w.]+\]?:", re.MULTILINE)
NUMBER = re.compile(r"^-?\d+\.\d+$")


def unformatted(cell: str) -> bool:
    """A decimal with more than four significant digits (0.842900, 29.796949): nobody formatted it."""
    return bool(NUMBER.match(cell)) and len(cell.lstrip("-").replace(".", "").lstrip("0")) > 4


def report_files(root: Path) -> list[Path]:
    cat = Catalog(root)
    return [*(cat.report(s) for s in STAGES), cat["index"], cat["model_card"]]


def problems(html: str, root: Path) -> list[str]:
    """Everything in one report page a reviewer should not have to read past."""
    out = []
    if re.search(r'(?:src|href)=["\']https?://', html):
        out.append("loads from the network")
    if 'data-mime-type="application/vnd.jupyter.stderr"' in html:
        out.append("has a stderr output block (library logs or warnings)")
    soup = BeautifulSoup(html, "html.parser")
    text = soup.get_text("\n")
    out += [f"log line: {m.group(0).strip()!r}" for m in LOG_LINE.finditer(text)]
    if soup.find("table", class_="dataframe"):
        out.append("a raw DataFrame table (index column, unformatted numbers): display it with mining.reports.table")
    cells = [td.get_text(strip=True) for td in soup.find_all("td")]
    out += [f"unformatted number {c}" for c in cells if unformatted(c)][:3]
    if soup.find(["h2", "h3"]) and not soup.find("nav", class_="toc"):
        out.append("no table of contents")
    if str(root) in html:
        out.append(f"shows the machine's absolute path {root}")
    for uri in re.findall(r'src="(data:image/png;base64,[^"]{0,40})', html):
        if len(uri) <= 30:
            out.append("an empty image")
    return out


def assert_reports_readable(root: Path) -> None:
    found = {p.name: problems(p.read_text(), root) for p in report_files(root)}
    bad = {k: v for k, v in found.items() if v}
    assert not bad, f"reports a reviewer should not get: {bad}"


def assert_curriculum_anchors_resolve(root: Path, practices=None) -> None:
    """Every practice's report section exists in the rendered reports, and the index links it."""
    reports = Catalog(root)["index"].parent
    index = (reports / Path(ARTEFACTS["index"].path).name).read_text()
    missing = []
    for p in practices or load()[1]:
        if p.anchor:
            page, _, anchor = p.anchor.partition("#")
            ids = {t["id"] for t in BeautifulSoup((reports / page).read_text(), "html.parser").find_all(id=True)}
            if anchor not in ids:
                missing.append(f"{p.id}: {p.anchor}")
            if f'href="{p.anchor}"' not in index:
                missing.append(f"{p.id}: not linked from the index")
    assert not missing, f"curriculum sections missing: {missing}"
