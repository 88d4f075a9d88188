import re
from pathlib import Path

import nbformat
import pytest

from mining.runner import StageFailed, run_stage, strip
from mining.stages import STAGES
from tests.conftest import notebook

ROOT = Path(__file__).resolve().parents[1]


def external_urls(html: str) -> set[str]:
    return set(re.findall(r'(?:src|href)=["\'](https?://[^"\']+)', html))


def test_strip_keeps_code_and_tags_drops_outputs():
    nb = notebook("print(1)")
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[1].execution_count = 3
    nb.cells[1].metadata["collapsed"] = True
    clean = strip(nb)
    assert clean.cells[1].outputs == [] and clean.cells[1].execution_count is None
    assert clean.cells[1].metadata == {} and clean.cells[0].metadata == {"tags": ["parameters"]}


def test_a_stage_runs_with_overrides_and_renders_offline_html(stage_project):
    nb = notebook("from mining.params import load_params\nP = load_params(overrides)\nprint('SOURCE', P['data']['source'])",
                  "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()")
    nbformat.write(nb, stage_project / "notebooks" / f"{STAGES['scope']}.ipynb")
    run = run_stage("scope", stage_project, {"data.source": "x.csv"})
    html = run.report.read_text()
    assert "SOURCE x.csv" in html
    assert "load_params" not in html  # code hidden
    assert "data:image/png;base64," in html  # figure inline
    assert external_urls(html) == set()


def test_a_failing_cell_fails_the_stage_and_still_leaves_the_report(stage_project):
    nb = notebook("x = 1", "raise ValueError('threshold breached: 0.4 < 0.5')")
    nbformat.write(nb, stage_project / "notebooks" / f"{STAGES['train']}.ipynb")
    with pytest.raises(StageFailed, match=r"stage train failed in cell \d+ .*ValueError: threshold breached"):
        run_stage("train", stage_project)
    report = stage_project / "reports" / f"{STAGES['train']}.html"
    assert "threshold breached" in report.read_text()


def test_unknown_stage_is_named(stage_project):
    with pytest.raises(KeyError, match="unknown stage 'trian'"):
        run_stage("trian", stage_project)
