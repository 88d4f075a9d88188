"""A stage's import closure: its notebook(s), the `mining` modules they import (transitively, lazy
imports inside functions included), and the package files those modules read by name (templates,
the curriculum map). What `dvc.yaml` must list as the stage's deps so that no code change leaves
the stage "up to date" when it is not."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from mining.stages import STAGES, VARIANTS

TEMPLATE = re.compile(r"[\"']([\w]+\.html\.j2)[\"']")
EXTENDS = re.compile(r"{%\s*extends\s+[\"']([\w./]+)[\"']")
SIBLING = re.compile(r"with_name\([\"']([\w.]+)[\"']\)")
# A fitted pipeline unpickled by `joblib.load` runs code of these modules (its steps' classes and
# functions) without importing them by name: a stage that loads a model depends on them too.
PICKLED = ["mining.features.encoding", "mining.features.impute", "mining.train.early_stopping",
           "mining.train.blend", "mining.train.torch_mlp"]


def _module_file(root: Path, dotted: str) -> Path | None:
    base = root / Path(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _runtime_nodes(tree: ast.AST):
    """Every node except those under `if TYPE_CHECKING:` (imports for type hints only never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(tree: ast.AST) -> set[str]:
    """Dotted names of the `mining` modules a source imports (a `from a import b` may name module a.b)."""
    names: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.split(".")[0] == "mining"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mining":
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _packages(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _has_code(path: Path) -> bool:
    """False for a package `__init__.py` holding only its docstring (nothing it could change)."""
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def closure(root: Path, sources: list[str]) -> set[str]:
    """Project-relative files that code in `sources` (Python text) runs or reads, transitively."""
    todo = [ast.parse(s) for s in sources]
    if any("joblib.load" in s for s in sources):
        todo.append(ast.parse("\n".join(f"import {m}" for m in PICKLED)))
    files: set[Path] = set()
    texts: list[str] = list(sources)
    while todo:
        for dotted in _imports(todo.pop()):
            for name in [*_packages(dotted), dotted]:
                path = _module_file(root, name)
                if path is not None and path not in files:
                    files.add(path)
                    text = path.read_text()
                    texts.append(text)
                    todo.append(ast.parse(text))
                    if "joblib.load" in text:
                        todo.append(ast.parse("\n".join(f"import {m}" for m in PICKLED)))
    out = {p for p in files if p.name != "__init__.py" or _has_code(p)}
    for text in texts:
        out |= {root / "mining" / "templates" / t for t in TEMPLATE.findall(text)}
    for path in [p for p in files]:
        out |= {path.with_name(n) for n in SIBLING.findall(path.read_text())}
    for template in [p for p in out if p.suffix == ".j2"]:
        out |= {template.parent / t for t in EXTENDS.findall(template.read_text())}
    return {p.relative_to(root).as_posix() for p in out}


def stage_closure(root: Path, stage: str) -> set[str]:
    """The closure of every notebook the stage may run (the charter's task picks one)."""
    notebooks = [STAGES[stage], *(nb for (s, _), nb in VARIANTS.items() if s == stage)]
    sources = []
    for name in notebooks:
        nb = nbformat.read(root / "notebooks" / f"{name}.ipynb", as_version=4)
        sources += [c.source for c in nb.cells if c.cell_type == "code"]
    return closure(root, sources)


def uncovered(deps: list[str], files: set[str]) -> list[str]:
    """Files not covered by a dep (the file itself or a folder above it)."""
    return sorted(f for f in files if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in deps))
