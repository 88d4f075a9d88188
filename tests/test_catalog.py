"""Every artefact path comes from the catalog: no path literal elsewhere, notebooks and tests included."""

import ast
from pathlib import Path

import nbformat
import pytest

from mining.catalog import ARTEFACTS, METRICS_DIR, REPORTS_DIR, STRIPPED_DIR, Catalog, member

ROOT = Path(__file__).resolve().parents[1]
EXEMPT = {"mining/catalog.py", "tests/test_catalog.py"}


def artefact_literals() -> set[str]:
    """Paths of the catalog's artefacts, the file names inside their out folders, and the generated folders
    (a folder's bare name inside its out, like `entities`, is an ordinary word and not searched)."""
    names = {a.path for a in ARTEFACTS.values()} | {f"{d}/" for d in (METRICS_DIR, REPORTS_DIR, STRIPPED_DIR)}
    for name in ARTEFACTS:
        try:
            inner = member(name)
        except KeyError:
            continue  # an out folder itself, or outside DVC
        if "." in inner:
            names.add(inner)
    return names


def strings(source: str) -> list[tuple[int, str]]:
    """String constants of Python code with their line, docstrings left out (prose, not paths)."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def sources() -> list[tuple[str, str]]:
    out = []
    for pattern in ("mining/**/*.py", "tests/*.py", "benchmarks/*.py"):
        out += [(p.relative_to(ROOT).as_posix(), p.read_text()) for p in ROOT.glob(pattern)]
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        out += [(f"{p.relative_to(ROOT).as_posix()} cell {i}", c.source) for i, c in enumerate(nb.cells)
                if c.cell_type == "code"]
    return [(name, text) for name, text in out if name not in EXEMPT]


def literals_in(text: str) -> list[tuple[int, str, str]]:
    found = []
    names = artefact_literals()
    for line, value in strings(text):
        if not value.startswith("/"):  # an absolute path or a URL route (`/openapi.json`), not an artefact
            found += [(line, value, n) for n in names if n in value]
    return found


def test_no_artefact_path_is_written_outside_the_catalog():
    hits = [f"{name}:{line}: {value!r} names {n!r}: take it from mining.catalog"
            for name, text in sources() for line, value, n in literals_in(text)]
    assert hits == []


def test_a_planted_literal_is_found():
    assert literals_in('pd.read_parquet(root / "data/features/features.parquet")')
    assert literals_in('joblib.load(bundle / "model.joblib")')
    assert not literals_in('"""Reads data/features/features.parquet."""\nx = 1')


def test_paths_are_project_relative_and_unique():
    paths = [a.path for a in ARTEFACTS.values()]
    assert len(paths) == len(set(paths))
    assert all(not p.startswith("/") and ".." not in p for p in paths)


def test_catalog_paths_and_display(tmp_path):
    cat = Catalog(tmp_path)
    assert cat["charter"] == tmp_path / "data" / "scope" / "charter.json"
    assert member("serving_model") == "model.joblib" and member("quarantine") == "quarantine.parquet"
    assert cat.relative(f"sqlite:///{tmp_path}/mlruns/mlflow.db") == "sqlite:///mlruns/mlflow.db"
    assert cat.relative(tmp_path / "data" / "bi") == "data/bi"
    assert cat.relative("postgresql://u@db/x") == "postgresql://u@db/x"
    with pytest.raises(KeyError, match="no artefact 'chartr' in the catalog"):
        cat["chartr"]
