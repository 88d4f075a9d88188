"""`reports/dashboard.html`: the executive view across runs, read from the warehouse's KPI facts.

Each run that reached stage 09 loaded its figures into `fact_kpis` (one set per model version and
date); the page follows them over those runs: model versions, holdout and realised performance,
volume flagged, drift, fairness, value, compute cost. Charts are inline images: the page opens
offline, without a script.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import sqlalchemy as sa

from mining.enterprise.warehouse import DIM_DATE, DIM_MODEL_VERSION, FACT_KPIS, LOAD_LOG
from mining.reports import figure_data_uri, render
from mining.secrets import expand_env

# (title, [(stage, kpi, label)], y label): one chart each, drawn when any run has a figure for it
CHARTS = [
    ("Performance", [("evaluate", "roc_auc", "holdout ROC AUC"), ("monitor", "realised_roc_auc_latest",
                                                                  "realised ROC AUC (latest window)"),
                     ("evaluate", "pr_auc", "holdout PR AUC")], "score"),
    ("Segments", [("evaluate", "silhouette", "silhouette (holdout)"), ("evaluate", "share_psi", "segment-share PSI")],
     "score"),
    ("Volume", [("output", "flagged", "customers flagged"), ("output", "scored", "customers scored")], "customers"),
    ("Drift in production", [("monitor", "drifted_features", "inputs drifted (latest window)"),
                             ("monitor", "prediction_psi", "prediction PSI")], "count / PSI"),
    ("Fairness", [("evaluate", "max_equalized_odds_difference",
                   "largest equalized-odds difference (features and their intersections)")], "difference"),
    ("Value", [("evaluate", "value_at_threshold", "value at the operating threshold")], "value"),
    ("Compute", [("compute", "cpu_s", "CPU seconds (stages 01-08)"), ("compute", "wall_s", "wall seconds")], "seconds"),
]


def kpi_history(url: str) -> pd.DataFrame:
    """One row per run (model version and date, in the order first loaded), one column per stage:kpi,
    with the run's date, model type and the number of gates that failed."""
    engine = sa.create_engine(expand_env(url))
    try:
        with engine.connect() as con:
            facts = pd.read_sql(sa.select(FACT_KPIS, DIM_DATE.c.date, DIM_MODEL_VERSION.c.model_type)
                                .join(DIM_DATE, DIM_DATE.c.date_key == FACT_KPIS.c.date_key)
                                .join(DIM_MODEL_VERSION, DIM_MODEL_VERSION.c.model_version == FACT_KPIS.c.model_version), con)
            loads = pd.read_sql(sa.select(LOAD_LOG.c.model_version, LOAD_LOG.c.date_key,
                                          sa.func.min(LOAD_LOG.c.load_id).label("first_load"))
                                .group_by(LOAD_LOG.c.model_version, LOAD_LOG.c.date_key), con)
    finally:
        engine.dispose()
    run = ["model_version", "date_key"]
    figures = facts[facts["stage"] != "gate"].assign(name=lambda f: f["stage"] + ":" + f["kpi"])
    wide = figures.pivot_table(index=run, columns="name", values="value", aggfunc="last").reset_index()
    about = facts.groupby(run).agg(date=("date", "first"), model_type=("model_type", "first"),
                                   gates_failed=("status", lambda s: int((s == "fail").sum()))).reset_index()
    out = about.merge(wide, on=run, how="left").merge(loads, on=run).sort_values("first_load", ignore_index=True)
    out.columns.name = None
    return out.assign(run=[f"{d} · {v[:8]}" for d, v in zip(out["date"], out["model_version"])])


def charts(history: pd.DataFrame) -> list[dict]:
    """One inline chart per group of figures some run has, over the runs in order."""
    out = []
    for title, series, ylabel in CHARTS:
        present = [(f"{stage}:{kpi}", label) for stage, kpi, label in series
                   if f"{stage}:{kpi}" in history and history[f"{stage}:{kpi}"].notna().any()]
        if not present:
            continue
        fig, ax = plt.subplots(figsize=(7.5, 2.8))
        for col, label in present:
            ax.plot(range(len(history)), history[col], marker="o", label=label)
        ax.set_xticks(range(len(history)), history["run"], rotation=20, ha="right", fontsize=8)
        ax.set(ylabel=ylabel, title=title)
        ax.legend(fontsize=8)
        out.append({"title": title, "src": figure_data_uri(fig)})
        plt.close(fig)
    return out


def write_dashboard(path: Path, history: pd.DataFrame, *, name: str, problem: str, currency: str) -> Path:
    """The page: the latest run's figures, a chart per group across runs, a table of every run."""
    columns = {"run": "run", "model_type": "model", "evaluate:roc_auc": "holdout ROC AUC",
               "monitor:realised_roc_auc_latest": "realised ROC AUC", "output:flagged": "flagged",
               "evaluate:max_equalized_odds_difference": "largest EO difference (incl. intersections)",
               "evaluate:value_at_threshold": "value", "compute:cost": f"cost ({currency})", "gates_failed": "gates failed"}
    runs = history[[c for c in columns if c in history]].rename(columns=columns)
    return render("dashboard.html.j2", path, name=name, problem=problem, runs=runs.to_dict("records"),
                  columns=list(runs.columns), charts=charts(history), latest=runs.iloc[-1].to_dict())
