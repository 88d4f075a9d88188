"""`dvc.yaml` kept in step with the code: each stage's deps cover its import closure, and its outs
are exactly the catalog's."""

import copy
from pathlib import Path

import pytest
import yaml

from mining.catalog import ARTEFACTS, metrics, notebook_outs, stage_outs, stripped
from mining.stages import STAGES, VARIANTS
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


@pytest.mark.parametrize("stage", list(STAGES))
def test_outs_are_the_catalogs(stage):
    outs = entries(DVC[stage]["outs"])
    expected = stage_outs(stage)
    assert set(outs) == set(expected), f"stage {stage}: dvc.yaml outs differ from mining/catalog.py"
    for path, art in expected.items():
        assert bool(outs[path].get("persist", False)) == art.persist, f"{path}: persist"
        assert bool(outs[path].get("cache", True)) == art.cache, f"{path}: cache"
    assert [m for m in DVC[stage]["metrics"]] == [metrics(stage)]
    notebooks = [STAGES[stage], *(nb for (s, _), nb in VARIANTS.items() if s == stage)]
    assert [d for d in entries(DVC[stage]["deps"]) if d.startswith("build/")] == [stripped(n) for n in notebooks]
    assert DVC[stage]["cmd"] == f"mining run {stage}"


def test_data_deps_are_earlier_stages_outputs():
    order = list(STAGES)
    owner = {a.path: a.stage for a in ARTEFACTS.values() if a.out}
    owner.update({metrics(s): s for s in STAGES})
    for stage in STAGES:
        for dep in entries(DVC[stage]["deps"]):
            if dep.startswith(("mining/", "build/")):
                continue
            assert dep in owner, f"stage {stage}: dep {dep} is not a catalog output"
            assert order.index(owner[dep]) < order.index(stage), f"stage {stage}: {dep} comes from a later stage"


def test_the_strip_stage_writes_every_notebook_copy():
    assert list(entries(DVC["notebooks"]["outs"])) == notebook_outs()
    assert {a.stage for a in ARTEFACTS.values()} <= set(STAGES)
