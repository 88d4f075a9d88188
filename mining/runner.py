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

import mining.jsonschema_lean  # noqa: F401  (before nbformat: 2.6 s less per command, see there)

# isort: split
import nbformat
import papermill as pm
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbconvert import HTMLExporter

from mining import atomic
from mining.catalog import Catalog
from mining.charter import charter_task
from mining.compute import metered, record
from mining.locks import held
from mining.reports import with_contents
from mining.secrets import redact_text
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
    """Code hidden, images inline, no CDN scripts, credentials masked; written atomically."""
    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    return atomic.write_text(report, redact_text(with_contents(body)))


def _noted(running: Path, source: nbformat.NotebookNode, error: str) -> None:
    """The executed notebook of a run that died outside a cell (a timeout, a dead kernel): what ran
    so far, or the source, with the error as its last cell."""
    nb = nbformat.read(running, as_version=4) if running.exists() else nbformat.from_dict(source)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"## Stage failed\n\n**{error}**"))
    nbformat.write(nb, running)


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

    One run of a stage at a time (a second fails naming the first's pid). A stage that succeeds has
    its kernel's wall time, CPU seconds and peak memory added to its metrics (`mining.compute`). Whatever stops the run (a
    failing cell, a cell timeout, a dead kernel), the report is still written, showing where and
    why, then StageFailed is raised. Both files are replaced atomically and with credentials masked
    (the parameters cell holds the run's overrides).
    """
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    cat = Catalog(root)
    with held(cat.lock(stage), f"stage {stage}"):
        source = root / "notebooks" / f"{notebook_for(stage, charter_task(root))}.ipynb"
        executed, report = cat.executed(stage), cat.report(stage)
        executed.parent.mkdir(parents=True, exist_ok=True)
        running = executed.with_name(f".{executed.stem}.running.ipynb")
        nb = strip(nbformat.read(source, as_version=4))
        error = None
        try:
            with metered() as compute:
                pm.execute_notebook(nb, str(running), parameters={"overrides": dict(overrides or {})},
                                    kernel_name=ensure_kernel(), cwd=str(root), execution_timeout=cell_timeout_s,
                                    progress_bar=False, report_mode=False)
            record(cat.metrics(stage), compute)
        except pm.PapermillExecutionError:
            error = _failure(running)
        except Exception as exc:  # a cell timeout or a dead kernel: no error cell, so note it
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            _noted(running, nb, error)
        atomic.write_text(executed, redact_text(running.read_text(encoding="utf-8")))
        running.unlink()
        render_html(executed, report)
    if error:
        raise StageFailed(f"stage {stage} failed in {error}\n  report: {report}")
    return StageRun(stage, executed, report)
