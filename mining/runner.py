"""Run one stage's notebook with papermill and render it to a self-contained HTML report.

The notebook executed is a cleaned copy (outputs and execution counts stripped), so what runs is
exactly the code DVC tracks, whatever outputs a JupyterLab session saved into the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbconvert import HTMLExporter

from mining.catalog import Catalog
from mining.charter import charter_task
from mining.reports import with_contents
from mining.stages import STAGES, all_notebooks, notebook_for

KERNEL = "mining"
QUIET = "--IPKernelApp.log_level=ERROR"
# tqdm's notice that ipywidgets is absent (optuna and shap import tqdm.auto), and starlette's notice
# about its test client's HTTP library (the deploy stage calls the API in process): not for reviewers.
WARNINGS = "ignore:IProgress not found,ignore:Using `httpx` with `starlette.testclient`"
TEMPLATES = Path(__file__).parent / "templates" / "nbconvert"


class StageFailed(RuntimeError):
    """A cell of the stage's notebook raised; the message is the cell's error."""


@dataclass
class StageRun:
    stage: str
    executed: Path
    report: Path


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Code only: no outputs, no execution counts, no per-session metadata (tags kept)."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        cell.metadata = {"tags": cell.metadata["tags"]} if cell.metadata.get("tags") else {}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata = {k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata}
    nb.metadata.get("language_info", {}).pop("version", None)
    return nb


def write_stripped(root: Path) -> list[Path]:
    """Each stage's notebook without outputs (catalog `stripped`): what DVC hashes."""
    cat = Catalog(root)
    written = []
    for name in all_notebooks():
        nb = strip(nbformat.read(root / "notebooks" / f"{name}.ipynb", as_version=4))
        path = cat.stripped(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        written.append(path)
    return written


def ensure_kernel() -> str:
    """The project's kernelspec, installed into this environment (so it runs this interpreter).

    The kernel logs at ERROR level only (its notice about unencrypted local TCP would repeat on
    every stage), and the library notices in `WARNINGS` are silenced: they would otherwise land in
    the reports.
    """
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
        if (Path(spec.argv[0]).resolve() == Path(sys.executable).resolve() and QUIET in spec.argv
                and spec.env.get("PYTHONWARNINGS") == WARNINGS):
            return KERNEL
    except NoSuchKernel:
        pass
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL,
                    "--display-name", "Python (mining)"], check=True, capture_output=True)
    spec_file = Path(KernelSpecManager().get_kernel_spec(KERNEL).resource_dir) / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["argv"].append(QUIET)
    spec["env"] = {"PYTHONWARNINGS": WARNINGS}
    spec_file.write_text(json.dumps(spec, indent=1))
    return KERNEL


def render_html(executed: Path, report: Path) -> Path:
    """Code hidden, images inline, no CDN scripts."""
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(with_contents(body), encoding="utf-8")
    return report


def _failure(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {i} ({cell.source.splitlines()[0][:60] if cell.source else ''!s}): {out['ename']}: {out['evalue']}"
    return "unknown error (see the executed notebook)"


def run_stage(stage: str, root: Path, overrides: dict[str, Any] | None = None,
              cell_timeout_s: int = 1800) -> StageRun:
    """Execute the stage's notebook; write the executed copy and the HTML report (catalog `executed`, `report`).

    On a failing cell the report is still written (showing the error), then StageFailed is raised.
    """
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    source = root / "notebooks" / f"{notebook_for(stage, charter_task(root))}.ipynb"
    executed, report = Catalog(root).executed(stage), Catalog(root).report(stage)
    executed.parent.mkdir(parents=True, exist_ok=True)
    nb = strip(nbformat.read(source, as_version=4))
    error = None
    try:
        pm.execute_notebook(nb, str(executed), parameters={"overrides": dict(overrides or {})},
                            kernel_name=ensure_kernel(), cwd=str(root), execution_timeout=cell_timeout_s,
                            progress_bar=False, report_mode=False)
    except pm.PapermillExecutionError:
        error = _failure(executed)
    render_html(executed, report)
    if error:
        raise StageFailed(f"stage {stage} failed in {error}\n  report: {report}")
    return StageRun(stage, executed, report)
