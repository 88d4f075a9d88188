"""`reports/index.html`: the reviewers' start page (headline, gates, every report, the curriculum map)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from mining.catalog import ARTEFACTS, Catalog, report
from mining.curriculum import by_module, counts
from mining.params import Params
from mining.reports import render
from mining.stages import STAGES


def write_index(params: Params, **context) -> Path:
    """Render the index next to the stage reports; links are relative, so `reports/` can be moved."""
    reports = [{"href": PurePosixPath(report(stage)).name, "title": nb.replace("_", " · ", 1)}
               for stage, nb in STAGES.items()]
    return render("index.html.j2", Catalog(params.root)["index"], reports=reports,
                  model_card=PurePosixPath(ARTEFACTS["model_card"].path).name,
                  dashboard=PurePosixPath(ARTEFACTS["dashboard"].path).name,
                  guide=PurePosixPath(ARTEFACTS["guide"].path).name, bi_dir=ARTEFACTS["bi"].path,
                  curriculum=by_module(), curriculum_counts=counts(), **context)
