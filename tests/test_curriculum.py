"""The curriculum map is complete, honest in its form, and points at code that exists."""

import importlib
import re
from pathlib import Path

from mining.curriculum import STATUSES, by_module, counts, load

CURRICULUM = Path(__file__).resolve().parents[2] / "shared" / "CURRICULUM.md"


OPTIONAL = {"torch"}  # extras: a function needing one is checked only where it is installed


def resolve(dotted: str):
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError as exc:
            if exc.name in OPTIONAL:
                return callable
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


def test_all_63_practices_in_the_curriculums_order():
    modules, practices = load()
    assert [p.id for p in practices] == [f"{m}.{i}" for m in range(1, 10) for i in range(1, 8)]
    assert len(modules) == 9 and all(p.name.strip() for p in practices)
    if CURRICULUM.exists():  # the practices per module match the curriculum's bullet lists
        sections = re.split(r"^Module \d+:", CURRICULUM.read_text(), flags=re.MULTILINE)[1:]
        assert [len(re.findall(r"^- ", s, re.MULTILINE)) for s in sections] == [7] * 9


def test_statuses_are_known_and_say_what_is_missing():
    _, practices = load()
    for p in practices:
        assert p.status in STATUSES, p.id
        if p.status == "implemented":
            assert p.functions and p.anchor, f"{p.id}: implemented needs the code and the report section that shows it"
        else:
            assert p.gap, f"{p.id}: {p.status} needs a `gap` saying what is missing"
        if p.anchor:
            assert re.fullmatch(r"[\w]+\.html#[a-z0-9-]+", p.anchor), p.anchor
    assert sum(counts().values()) == 63


def test_every_named_function_exists():
    _, practices = load()
    missing = []
    for p in practices:
        for f in p.functions:
            try:
                if not callable(resolve(f)):
                    missing.append(f"{p.id}: {f} is not callable")
            except (ImportError, AttributeError) as exc:
                missing.append(f"{p.id}: {f} ({exc})")
    assert missing == []


def test_a_planted_wrong_name_is_caught():
    import pytest

    with pytest.raises(AttributeError):
        resolve("mining.stats.no_such_function")


def test_modules_group_their_practices():
    groups = by_module()
    assert [g["number"] for g in groups] == list(range(1, 10))
    assert all(len(g["practices"]) == 7 for g in groups)


def test_an_anchor_missing_from_its_report_is_named(tmp_path):
    import pytest

    from mining.catalog import Catalog
    from mining.curriculum import Practice
    from tests.report_checks import assert_curriculum_anchors_resolve

    index = Catalog(tmp_path)["index"]
    index.parent.mkdir(parents=True)
    (index.parent / "05_evaluate.html").write_text('<h2 id="calibration">Calibration</h2>')
    index.write_text('<a href="05_evaluate.html#calibration">x</a><a href="05_evaluate.html#robustness">y</a>')
    ok = Practice("5.5", "Calibration", "partial", [], "05_evaluate.html#calibration")
    assert_curriculum_anchors_resolve(tmp_path, [ok])
    gone = Practice("5.6", "Robustness", "implemented", [], "05_evaluate.html#robustness")
    with pytest.raises(AssertionError, match="5.6: 05_evaluate.html#robustness"):
        assert_curriculum_anchors_resolve(tmp_path, [ok, gone])
