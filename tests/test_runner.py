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


def test_a_stage_s_compute_is_added_to_its_metrics_and_priced(stage_project):
    from mining.catalog import Catalog
    from mining.compute import compute_table
    from mining.reports import read_json

    nb = notebook("import numpy as np\nfrom mining.reports import write_metrics\n"
                  "a = np.ones((4000, 4000))  # 128 MB held while the kernel works\n"
                  "total = sum(float((a @ a[:, :100]).sum()) for _ in range(3))\n"
                  "write_metrics(Path.cwd(), 'scope', {'total': total})",
                  params="overrides = {}\nfrom pathlib import Path")
    nbformat.write(nb, stage_project / "notebooks" / f"{STAGES['scope']}.ipynb")
    run_stage("scope", stage_project)
    metrics = read_json(Catalog(stage_project).metrics("scope"))
    compute = metrics["compute"]
    assert metrics["total"] == 3 * 4000 * 4000 * 100 and compute["wall_s"] > 0 and compute["cpu_s"] > 0
    assert 128 < compute["peak_rss_mb"] < 4000  # the kernel's peak, the array included
    table = compute_table({"scope": metrics, "train": {"no": "compute"}, "evaluate": None}, cpu_hour_price=3.6)
    assert table["stage"].tolist() == ["scope"] and table["cost"].iloc[0] == pytest.approx(compute["cpu_s"] / 1000)
    nb = notebook("raise ValueError('no metrics written')")
    nbformat.write(nb, stage_project / "notebooks" / f"{STAGES['train']}.ipynb")
    with pytest.raises(StageFailed):
        run_stage("train", stage_project)
    assert not Catalog(stage_project).metrics("train").exists()  # a failed stage gets no compute record
