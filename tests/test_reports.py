"""Reports a reviewer reads: numbers to three significant figures, no index column, a table of
contents with stable anchors, and no library log lines (checked on planted pages too)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mining.lineage import git_commit
from mining.reports import number, slug, table, with_contents
from mining.sandbox import run
from tests.report_checks import problems


@pytest.mark.parametrize("value, text", [
    (0.842900, "0.843"), (29.796949, "29.8"), (1234.5, "1,234"), (1500.0, "1,500"), (12, "12"),
    (np.int64(20000), "20,000"), (0.000123, "1.23e-04"), (0.0, "0"), (None, "–"), (float("nan"), "–"),
    (True, "yes"), ("7713.83", "7,714"), ("basic", "basic"), (-0.00643, "-0.00643"),
])
def test_numbers_read_at_three_significant_figures(value, text):
    assert number(value) == text


def test_a_table_has_no_index_column_and_headers_that_wrap():
    html = table(pd.DataFrame({"cv_mean": [0.842900], "fit_s": [29.796949]}, index=["lightgbm"])).to_html()
    assert "0.843" in html and "29.8" in html and "0.8429" not in html
    assert "cv mean" in html and "lightgbm" not in html  # a meaningless index is dropped
    assert "lightgbm" in table(pd.Series([1.0], index=["lightgbm"], name="x"), index=True).to_html()


def test_headings_get_slug_anchors_and_a_contents_list():
    page = with_contents('<html><body><div><h1 id="x">05 · Evaluate</h1><p>intro</p></div>'
                         '<div><h2 id="What-drives-(SHAP)">What drives the score (SHAP)'
                         '<a class="anchor-link" href="#x">¶</a></h2></div></body></html>')
    assert 'id="what-drives-the-score-shap"' in page and 'href="#what-drives-the-score-shap"' in page
    assert page.index('class="toc"') > page.index("intro") and "¶" not in page
    assert slug("The charter's output, in the warehouse") == "the-charter-s-output-in-the-warehouse"
    nested = with_contents("<body><h1>T</h1><h2>A</h2><h3>a1</h3><h3>a2</h3><h2>B</h2></body>")
    assert '<li class="h2" value="2"><a href="#b">B</a>' in nested  # sub-sections do not shift the numbers


def test_a_page_with_log_lines_raw_tables_or_absolute_paths_is_refused(tmp_path):
    bad = ('<h1>T</h1><h2>S</h2><div class="jp-RenderedText" data-mime-type="application/vnd.jupyter.stderr">'
           '<pre>2026/11/29 20:26:45 INFO mlflow.store.db.utils: Creating initial MLflow database tables...</pre></div>'
           f'<table class="dataframe"><tr><td>0.844834</td></tr></table><p>{tmp_path}/mlruns</p>')
    found = problems(bad, tmp_path)
    assert any("stderr" in p for p in found) and any(p.startswith("log line") for p in found)
    assert any("raw DataFrame" in p for p in found) and any("unformatted number 0.844834" in p for p in found)
    assert any("table of contents" in p for p in found) and any("absolute path" in p for p in found)
    assert problems(with_contents("<h1>T</h1><h2>S</h2><table class='t'><tr><td>0.845</td></tr></table>"), tmp_path) == []


def test_only_code_or_params_changes_make_a_run_dirty(tmp_path: Path):
    for d in ("mining", "params"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "x.txt").write_text("1")
    (tmp_path / "dvc.lock").write_text("a")
    run(["git", "init", "-q"], tmp_path)
    run(["git", "add", "-A"], tmp_path)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "x"], tmp_path)
    (tmp_path / "dvc.lock").write_text("b")  # what every `dvc repro` rewrites
    assert git_commit(tmp_path)["dirty"] is False
    (tmp_path / "params" / "x.txt").write_text("2")
    assert git_commit(tmp_path)["dirty"] is True
