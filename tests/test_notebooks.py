"""The committed notebooks: code only, parameterisable by papermill, on the project's kernel."""

from pathlib import Path

import nbformat
import pytest

from mining.stages import all_notebooks

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", all_notebooks())
def test_notebook_is_committed_clean_with_a_parameters_cell(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.outputs for c in code), "commit notebooks without outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and params[0].source.strip() == "overrides = {}"
    assert nb.metadata["kernelspec"]["name"] == "mining"
