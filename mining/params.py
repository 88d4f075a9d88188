"""Where the project lives and how a run's parameters are read.

`params/*.yaml` is the single source of every choice. A notebook run by hand in JupyterLab and a
`dvc repro` run read the same files; papermill only injects `overrides` ("file.key" -> value).
Every file is checked against its schema (`mining.param_models`) as it is loaded, overrides
applied, so a typo'd key or a wrong type stops the run before any work, naming file and key.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

from mining.param_models import SCHEMAS
from mining.secrets import redact_text

PARAMS_DIR = "params"


class ParamsError(ValueError):
    """A parameter file or override is missing or malformed."""


def project_root(start: Path | None = None) -> Path:
    """The directory holding `dvc.yaml` and `params/`, searched upwards from `start` (or cwd).

    Notebooks run from `notebooks/` in JupyterLab and from the root under papermill, so paths are
    always resolved against this root, never against the working directory.
    """
    env = os.environ.get("MINING_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PARAMS_DIR).is_dir() and (candidate / "dvc.yaml").is_file():
            return candidate
    raise ParamsError(f"no project root (a folder with dvc.yaml and params/) above {here}")


def parse_override(text: str) -> tuple[str, Any]:
    """Parse `FILE.KEY[.SUBKEY]=VALUE`; the value is read as YAML so `3`, `true`, `null`, `[a, b]` work."""
    if "=" not in text:
        raise ParamsError(f"override {text!r}: expected FILE.KEY=VALUE, e.g. data.source=x.csv")
    key, raw = text.split("=", 1)
    if "." not in key or not all(key.split(".")):
        raise ParamsError(f"override {text!r}: key must be FILE.KEY (FILE is a params/FILE.yaml)")
    return key, yaml.safe_load(raw) if raw != "" else ""


def _set_dotted(tree: dict, dotted: str, value: Any, origin: str) -> None:
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            raise ParamsError(f"override {origin!r}: {k!r} is not a mapping in the params file")
        node = node[k]
    if keys[-1] not in node:
        raise ParamsError(f"override {origin!r}: unknown key {keys[-1]!r} (known: {sorted(node)})")
    node[keys[-1]] = value


class Params(Mapping[str, dict]):
    """All parameter files as `{file_stem: mapping}`, with overrides applied."""

    def __init__(self, files: dict[str, dict], root: Path):
        self._files = files
        self.root = root

    def __getitem__(self, name: str) -> dict:
        try:
            return self._files[name]
        except KeyError:
            raise ParamsError(f"no params/{name}.yaml (have: {sorted(self._files)})") from None

    def __iter__(self):
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def path(self, relative: str | os.PathLike) -> Path:
        """A project-relative path made absolute (absolute paths and URIs pass through)."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    def as_dict(self) -> dict[str, dict]:
        return copy.deepcopy(self._files)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Params:
        """These params (with the run's own overrides) and more on top: a stage that needs a variant
        (monitor's later window) derives it here instead of re-reading the files, so no override is lost."""
        return Params(_applied(self.as_dict(), overrides), self.root)


def _key_path(content: Any, loc: tuple, absent: bool) -> str:
    """The dotted key of an error: the loc entries found in the content, plus a last missing or
    unknown key; union tags in between (e.g. 'int', 'range') are skipped."""
    keys, node = [], content
    for i, part in enumerate(loc):
        if isinstance(node, (dict, list)) and (part in node if isinstance(node, dict)
                                               else isinstance(part, int) and part < len(node)):
            keys.append(str(part))
            node = node[part]
        elif absent and i == len(loc) - 1 and isinstance(node, dict):
            keys.append(str(part))
    return ".".join(keys)


def _describe(content: dict, error: dict) -> str:
    """One pydantic error as `key: problem (got value)`."""
    key = _key_path(content, error["loc"], error["type"] in ("missing", "extra_forbidden"))
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if error["type"] == "missing":
        return f"{key}: missing (every key is required)"
    return f"{key}: {error['msg'].replace('Input should be', 'expected')} (got {redact_text(repr(error['input']))})"


def validate(name: str, content: dict, origin: str) -> dict:
    """`content` checked against the schema of params/NAME.yaml; the same mapping back (types as written)."""
    schema = SCHEMAS.get(name)
    if schema is None:
        raise ParamsError(f"{origin}: no schema for params/{name}.yaml (known: {sorted(SCHEMAS)}; "
                          "add one in mining/param_models.py)")
    try:
        model = schema.model_validate(content)
    except ValidationError as exc:
        problems = list(dict.fromkeys(_describe(content, e) for e in exc.errors()))
        raise ParamsError(f"{origin}: " + "; ".join(problems[:8])) from None
    return model.model_dump(by_alias=True, exclude_unset=True)


YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: a tenth of the pure-Python one's time


def load_params(overrides: Mapping[str, Any] | None = None, root: Path | None = None) -> Params:
    """Read every `params/*.yaml`, apply `{"file.key": value}` overrides and check each file's schema."""
    root = root or project_root()
    files: dict[str, dict] = {}
    for f in sorted((root / PARAMS_DIR).glob("*.yaml")):
        with open(f, encoding="utf-8") as fh:
            try:
                content = yaml.load(fh, Loader=YAML_LOADER) or {}
            except yaml.YAMLError as exc:
                raise ParamsError(f"{f}: not valid YAML: {exc}") from exc
        if not isinstance(content, dict):
            raise ParamsError(f"{f}: expected a mapping at the top level")
        files[f.stem] = content
    for name in SCHEMAS:
        if name not in files:
            raise ParamsError(f"params/{name}.yaml is missing (every stage's choices live in params/)")
    files = {name: validate(name, content, f"params/{name}.yaml") for name, content in files.items()}
    return Params(_applied(files, overrides or {}), root)


def _applied(files: dict[str, dict], overrides: Mapping[str, Any]) -> dict[str, dict]:
    """`files` with `{"file.key": value}` overrides set, each changed file checked again."""
    for dotted, value in overrides.items():
        name, _, key = dotted.partition(".")
        if name not in files:
            raise ParamsError(f"override {dotted!r}: no params/{name}.yaml")
        _set_dotted(files[name], key, value, dotted)
    for name in {dotted.partition(".")[0] for dotted in overrides}:
        files[name] = validate(name, files[name], f"params/{name}.yaml with overrides")
    return files
