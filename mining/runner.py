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

from mining.stages import STAGES, all_notebooks, notebook_for

KERNEL = "mining"
QUIET = "--IPKernelApp.log_level=ERROR"
WARNINGS = "ignore:IProgress not found"
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
    """`build/notebooks/NN_stage.ipynb`: each stage's code without outputs (what DVC hashes)."""
    out = root / "build" / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in all_notebooks():
        nb = strip(nbformat.read(root / "notebooks" / f"{name}.ipynb", as_version=4))
        nbformat.write(nb, out / f"{name}.ipynb")
        written.append(out / f"{name}.ipynb")
    return written


def ensure_kernel() -> str:
    """The project's kernelspec, installed into this environment (so it runs this interpreter).

    The kernel logs at ERROR level only (its notice about unencrypted local TCP would repeat on
    every stage), and tqdm's notice that ipywidgets is absent (raised when optuna or shap import
    tqdm.auto) is silenced: both would otherwise land in every report.
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
    report.write_text(body, encoding="utf-8")
    return report


def _failure(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {i} ({cell.source.splitlines()[0][:60] if cell.source else ''!s}): {out['ename']}: {out['evalue']}"
    return "unknown error (see the executed notebook)"


def charter_task(root: Path) -> str:
    """The task the scope stage decided (classification until there is a charter)."""
    charter = root / "data" / "scope" / "charter.json"
    return json.loads(charter.read_text())["task"]["type"] if charter.exists() else "classification"


def run_stage(stage: str, root: Path, overrides: dict[str, Any] | None = None,
              cell_timeout_s: int = 1800) -> StageRun:
    """Execute `notebooks/NN_stage.ipynb`; write `reports/notebooks/NN_stage.ipynb` and `reports/NN_stage.html`.

    On a failing cell the report is still written (showing the error), then StageFailed is raised.
    """
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    name = STAGES[stage]
    source = root / "notebooks" / f"{notebook_for(stage, charter_task(root))}.ipynb"
    executed = root / "reports" / "notebooks" / f"{name}.ipynb"
    report = root / "reports" / f"{name}.html"
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
