"""`dvc.yaml` kept in step with the code: each stage's deps cover its import closure, and its outs
are exactly the catalog's."""

import copy
import tomllib
from pathlib import Path

import pytest
import yaml

from mining.catalog import ARTEFACTS, metrics, notebook_outs, stage_outs, stripped
from mining.stages import STAGES, TOOL_STAGES, VARIANTS
from tests.stage_closure import closure, stage_closure, uncovered

ROOT = Path(__file__).resolve().parents[1]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def entries(items: list) -> dict[str, dict]:
    """dvc.yaml outs/deps as {path: flags}."""
    out = {}
    for item in items:
        out.update({item: {}} if isinstance(item, str) else {k: v or {} for k, v in item.items()})
    return out


def stale(stages: dict) -> list[str]:
    return [f"stage {stage}: {f} is in its import closure but not in its deps"
            for stage in STAGES for f in uncovered(list(entries(stages[stage]["deps"])), stage_closure(ROOT, stage))]


def test_every_stage_depends_on_its_whole_import_closure():
    assert stale(DVC) == []


def test_a_missing_code_dep_is_named_with_its_stage():
    planted = copy.deepcopy(DVC)
    planted["train"]["deps"].remove("mining/train")
    problems = stale(planted)
    assert "stage train: mining/train/search.py is in its import closure but not in its deps" in problems
    assert all(p.startswith("stage train: mining/train/") for p in problems)


def test_the_closure_follows_lazy_imports_templates_and_pickled_models():
    files = closure(ROOT, ["def f():\n    from mining.evaluate import model_card\n", "joblib.load('x')"])
    assert {"mining/evaluate/model_card.py", "mining/templates/model_card.html.j2",
            "mining/templates/base.html.j2", "mining/train/blend.py", "mining/catalog.py"} <= files
    assert "mining/train/search.py" not in closure(ROOT, ["from mining.train import artefacts"])  # type hints only


def test_a_train_change_does_not_rerun_ingest():
    assert not any(d.startswith("mining/train") for d in entries(DVC["ingest"]["deps"]))


def outs_problems(stages: dict, stage: str) -> list[str]:
    """How a stage's outs, metrics, notebook deps and command differ from the catalog's."""
    outs, expected = entries(stages[stage]["outs"]), stage_outs(stage)
    problems = [f"stage {stage}: out {p} is not in mining/catalog.py" for p in sorted(set(outs) - set(expected))]
    problems += [f"stage {stage}: catalog artefact {p} is not among its outs" for p in sorted(set(expected) - set(outs))]
    for path, art in expected.items():
        if path in outs and (bool(outs[path].get("persist", False)) != art.persist
                             or bool(outs[path].get("cache", True)) != art.cache):
            problems.append(f"stage {stage}: out {path} has other persist/cache flags than the catalog's")
    if stages[stage]["metrics"] != [metrics(stage)]:
        problems.append(f"stage {stage}: metrics should be [{metrics(stage)}]")
    notebooks = [STAGES[stage], *(nb for (s, _), nb in VARIANTS.items() if s == stage)]
    if [d for d in entries(stages[stage]["deps"]) if d.startswith("build/")] != [stripped(n) for n in notebooks]:
        problems.append(f"stage {stage}: notebook deps should be {[stripped(n) for n in notebooks]}")
    if stages[stage]["cmd"] != f"mining run {stage}":
        problems.append(f"stage {stage}: cmd should be `mining run {stage}`")
    return problems


@pytest.mark.parametrize("stage", list(STAGES))
def test_outs_are_the_catalogs(stage):
    assert outs_problems(DVC, stage) == []


def test_an_out_the_catalog_does_not_know_or_lacks_is_named():
    planted, evaluation = copy.deepcopy(DVC), ARTEFACTS["evaluation"].path
    planted["evaluate"]["outs"] = [o for o in planted["evaluate"]["outs"] if o != evaluation]
    planted["evaluate"]["outs"].append(f"{evaluation}_old")
    assert outs_problems(planted, "evaluate") == [
        f"stage evaluate: out {evaluation}_old is not in mining/catalog.py",
        f"stage evaluate: catalog artefact {evaluation} is not among its outs"]


def run_order() -> list[str]:
    """The stages in the order their data deps make DVC run them (a topological sort)."""
    owner = {a.path: a.stage for a in ARTEFACTS.values() if a.out}
    owner.update({metrics(s): s for s in STAGES})
    needs = {}
    for stage in STAGES:
        outside = {a.path for a in ARTEFACTS.values() if not a.dvc}  # e.g. the committed benchmark figures
        data = [d for d in entries(DVC[stage]["deps"]) if not d.startswith(("mining/", "build/")) and d not in outside]
        assert all(d in owner for d in data), f"stage {stage}: a data dep is not a catalog output: {data}"
        needs[stage] = {owner[d] for d in data}
    order: list[str] = list(TOOL_STAGES)  # a tool stage depends on code alone
    while len(order) < len(needs) + len(TOOL_STAGES):
        ready = [s for s in STAGES if s not in order and needs[s] <= set(order)]
        assert ready, f"dvc.yaml has a cycle among {set(needs) - set(order)}"
        order.append(ready[0])
    return order


def test_data_deps_are_earlier_stages_outputs_and_deploy_waits_for_governance():
    order = run_order()
    assert order.index("govern") < order.index("deploy") < order.index("monitor")


def test_the_import_contracts_follow_the_lifecycle_and_the_run_order():
    """Layers in lifecycle order (a stage never imports a later-numbered one); a stage that runs
    before a lower-numbered one (govern before deploy and monitor) is forbidden to import it."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")["layers"]
    stage_layers = [name.removeprefix("mining.") for name in layers if name.removeprefix("mining.") in STAGES]
    assert stage_layers[::-1] == list(STAGES)
    order, numbered = run_order(), list(STAGES)
    forbidden = {(m.removeprefix("mining."), f.removeprefix("mining.")) for c in contracts if c["type"] == "forbidden"
                 for m in c["source_modules"] for f in c["forbidden_modules"]}
    runs_first = {(a, b) for a in STAGES for b in STAGES
                  if order.index(a) < order.index(b) and numbered.index(a) > numbered.index(b)}
    assert runs_first == {("govern", "deploy"), ("govern", "monitor")} and runs_first <= forbidden


def test_the_strip_stage_writes_every_notebook_copy():
    assert list(entries(DVC["notebooks"]["outs"])) == notebook_outs()
    assert {a.stage for a in ARTEFACTS.values()} <= set(STAGES) | set(TOOL_STAGES)


def test_the_tool_stages_run_their_command_and_own_their_catalog_outs():
    assert set(DVC) == set(STAGES) | set(TOOL_STAGES)
    for stage, cmd in TOOL_STAGES.items():
        assert DVC[stage]["cmd"] == cmd
    feedback = entries(DVC["feedback"]["outs"])
    assert feedback == {a.path: {"persist": True} for a in ARTEFACTS.values() if a.stage == "feedback" and a.out}
    assert ARTEFACTS["feedback"].path in entries(DVC["features"]["deps"])
