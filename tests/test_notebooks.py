"""The committed notebooks: code only, parameterisable by papermill, on the project's kernel."""

import ast
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


def unshown_tables(source: str) -> list[int]:
    """Lines of `table(...)` calls whose result Jupyter never shows: only a cell's last top-level
    expression is displayed, so one inside a block or before other statements needs display()."""
    tree = ast.parse(source)
    last = tree.body[-1] if tree.body else None
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "table" and node is not last]


@pytest.mark.parametrize("name", all_notebooks())
def test_every_table_a_notebook_builds_is_shown(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    assert [(i, unshown_tables(c.source)) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and unshown_tables(c.source)] == []


def test_a_table_before_the_end_of_a_cell_is_caught():
    assert unshown_tables("if x:\n    table(a)\nprint(1)") == [2]
    assert unshown_tables("display(table(a))\ntable(b)") == []
