"""Model search: every candidate's defaults, then on the best families a portfolio of known-good
configurations and Optuna TPE within a wall-clock budget, a pruner stopping weak trials at a low
fidelity (after a fold, or on a share of the rows when one holdout slice validates); optionally a
blend or a stack of the best; the winner refit. Time for the refit is reserved out of the budget,
and boosters stop adding rounds when the budget's deadline passes (`mining.train.deadline`).

Studies live in SQLite (the catalog's `optuna_db`), named by a hash of everything that defines
the search (data, spaces, validation, seed). Rerunning the same search resumes its studies: the
trials already done count against the budget and are not repeated, so a killed search picks up
where it stopped and an unchanged one costs nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import joblib
import numpy as np
import optuna
import pandas as pd
import sqlalchemy
from sklearn.base import clone
from sklearn.metrics import average_precision_score, roc_auc_score

from mining.catalog import member
from mining.train import deadline
from mining.train.blend import Blend, greedy_weights
from mining.train.candidates import INTERPRETABILITY, build_candidate
from mining.train.space import suggest
from mining.train.stack import Stack, stack_score

METRICS = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score}
HEARTBEAT_S, GRACE_S = 1, 4  # a running trial records a heartbeat each second; silent for 4 s: its run died
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
optuna.logging.set_verbosity(optuna.logging.WARNING)
# heartbeats are "experimental" in Optuna 4 (since 2.9); their notice is not for reports
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


@dataclass
class SearchConfig:
    """What the search does; built from params/train.yaml (`from_params`), which holds every default."""
    candidates: dict[str, dict]
    metric: str
    budget_s: float
    n_trials: int | None
    tune_top_k: int
    seed: int
    n_jobs: int
    class_weight: str | None
    downsample_majority: float | None
    early_stopping_rounds: int
    device: str
    ensemble: dict
    storage_dir: Path | None  # None: in memory, nothing resumes
    value_margin: float = 0.0  # the simplest candidate is kept unless the chosen one beats it by this
    pruner: str = "hyperband"  # hyperband | median
    fidelity_fraction: float | None = None  # one holdout slice: trials first train on this share of rows

    @classmethod
    def from_params(cls, train: dict, seed: int, storage_dir: Path | None, device: str,
                    budget_s: float | None = None) -> "SearchConfig":
        """`budget_s`: what is left of `time_budget_s` for the search (after input pruning)."""
        enabled = {k: v for k, v in train["candidates"].items() if v["enabled"]}
        return cls(candidates=enabled, metric=train["primary_metric"],
                   budget_s=float(train["time_budget_s"] if budget_s is None else budget_s),
                   n_trials=train.get("n_trials"), tune_top_k=int(train["tune_top_k"]), seed=seed,
                   n_jobs=int(train["n_jobs"]), class_weight=train.get("class_weight"),
                   downsample_majority=train.get("downsample_majority"),
                   early_stopping_rounds=int(train["early_stopping_rounds"]), device=device,
                   ensemble=dict(train["ensemble"]), storage_dir=storage_dir,
                   value_margin=float(train["value_margin"]), pruner=train["pruner"],
                   fidelity_fraction=train["validation"]["fidelity_fraction"])


@dataclass
class SearchResult:
    leaderboard: pd.DataFrame
    best_name: str
    model: object  # refit on all training rows
    oof: np.ndarray  # out-of-fold scores of the chosen model (for the operating threshold)
    scheme: str
    best_params: dict
    study_key: str
    trials: pd.DataFrame
    why: str = ""
    value_case: dict | None = None  # the chosen model against the simplest (`value_case`)
    budget: dict | None = None  # seconds by phase (defaults, portfolio, tpe, refit, ensemble) and the reserve
    families: pd.DataFrame | None = None  # per candidate: trials run, pruned, stopped by time, folds, seconds


def search_key(data_hash: str, scheme: str, n_rows: int, cfg: SearchConfig, definitions: dict) -> str:
    """Identity of a search: same data, inputs (after pruning), interactions, validation and spaces
    -> same studies (resume)."""
    ident = {"data": data_hash, "scheme": scheme, "rows": n_rows, "metric": cfg.metric, "seed": cfg.seed,
             "inputs": [f["name"] for f in definitions["features"]], "interactions": definitions.get("interactions"),
             "class_weight": cfg.class_weight, "downsample": cfg.downsample_majority,
             "early_stopping": cfg.early_stopping_rounds, "pruner": cfg.pruner, "fidelity": cfg.fidelity_fraction,
             "candidates": {k: {"defaults": v.get("defaults"), "space": v.get("space"), "portfolio": v.get("portfolio")}
                            for k, v in cfg.candidates.items()}}
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:12]


PHASES = ("defaults", "portfolio", "tpe")
REFIT_OVERHEAD_S = 1.0
# a booster refit on more rows also stops later, so its time grows faster than the rows: on TV16 (33,699
# rows, 3 folds) refitting six families took 31.7 s against 25 s reserved by the rows alone
REFIT_GROWTH = 1.3
ENSEMBLE_OVERHEAD_S = 1.5  # each ensemble's serving figures (its members predict a row each, 50 times)


class Search:
    def __init__(self, X: pd.DataFrame, y: np.ndarray, splits, scheme: str, definitions: dict, cfg: SearchConfig,
                 key: str, on_trial: Callable | None = None):
        self.X, self.y, self.splits, self.scheme, self.defs, self.cfg, self.key = X, y, splits, scheme, definitions, cfg, key
        self.on_trial = on_trial
        self.score = METRICS[cfg.metric]
        self.pos_weight = float((y == 0).sum() / max((y == 1).sum(), 1))
        self.steps, self.fidelity = _steps(splits, y, cfg.fidelity_fraction, cfg.seed)
        self.storage = None
        if cfg.storage_dir:
            cfg.storage_dir.mkdir(parents=True, exist_ok=True)
            self.storage = optuna.storages.RDBStorage(f"sqlite:///{cfg.storage_dir / member('optuna_db')}",
                                                      heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)
            self.oof_dir = cfg.storage_dir / "oof" / key
            self.oof_dir.mkdir(parents=True, exist_ok=True)
        self._oof: dict[tuple[str, int], np.ndarray] = {}
        self.deadline: float | None = None  # time.monotonic() at which this run's search time is up
        self.completed = False  # until one trial completes the deadline waits: the search always has a model

    # -- one candidate configuration, validated ---------------------------------------------------
    def pipeline(self, name: str, settings: dict, refit: bool = False):
        return build_candidate(name, settings, self.defs, seed=self.cfg.seed, n_jobs=self.cfg.n_jobs,
                               class_weight=self.cfg.class_weight, pos_weight=self.pos_weight,
                               early_stopping_rounds=self.cfg.early_stopping_rounds, refit=refit,
                               device=self.cfg.device)

    def _train_rows(self, idx: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Training rows of a fold; with majority downsampling, fewer negatives weighted back up."""
        ratio = self.cfg.downsample_majority
        if not ratio:
            return idx, None
        pos, neg = idx[self.y[idx] == 1], idx[self.y[idx] == 0]
        keep = min(len(neg), int(ratio * len(pos)))
        rng = np.random.default_rng(seed)
        chosen = rng.choice(neg, size=keep, replace=False)
        rows = np.sort(np.concatenate([pos, chosen]))
        weights = np.where(self.y[rows] == 0, len(neg) / max(keep, 1), 1.0)
        return rows, weights

    def fit(self, model, idx: np.ndarray, seed: int):
        rows, w = self._train_rows(idx, seed)
        kw = {} if w is None else {"model__sample_weight": w}
        return model.fit(self.X.iloc[rows], self.y[rows], **kw)

    def objective(self, name: str):
        """Each step is a fold (the value: the mean over folds so far) or, with one holdout slice, a
        fidelity (a share of the training rows, then all of them: the value is the last); after
        each the pruner may stop the trial, and past the deadline it stops as out of time."""
        spec = self.cfg.candidates[name]

        def run(trial: optuna.Trial) -> float:
            settings = {**(spec.get("defaults") or {}), **suggest(trial, spec.get("space"))}
            model = self.pipeline(name, settings)
            oof = np.full(len(self.y), np.nan)
            scores, pr, fit_s = [], [], []
            for step, (tr, va, final) in enumerate(self.steps):
                if step and self._out_of_time():
                    trial.set_user_attr("stopped", "time budget")
                    raise optuna.TrialPruned()
                t0 = time.perf_counter()
                with deadline.until(self.deadline if self.completed else None):
                    m = self.fit(clone(model), tr, seed=self.cfg.seed + step)
                fit_s.append(time.perf_counter() - t0)
                p = m.predict_proba(self.X.iloc[va])[:, 1]
                if final:
                    oof[va] = p
                    scores.append(self.score(self.y[va], p))
                    pr.append(average_precision_score(self.y[va], p))
                value = float(np.mean(scores)) if scores else float(self.score(self.y[va], p))
                trial.report(value, step + 1)
                if step + 1 < len(self.steps) and trial.should_prune():
                    raise optuna.TrialPruned()
            trial.set_user_attr("cv_std", float(np.std(scores)))
            trial.set_user_attr("cv_pr_auc", float(np.mean(pr)))
            trial.set_user_attr("fit_s", float(fit_s[-1] if self.fidelity else np.mean(fit_s)))
            trial.set_user_attr("settings", json.loads(json.dumps(settings, default=str)))
            self._save_oof(name, trial.number, oof)
            self.completed = True
            return float(np.mean(scores))

        return run

    def _out_of_time(self) -> bool:
        return self.completed and self.deadline is not None and time.monotonic() > self.deadline

    def _save_oof(self, name: str, number: int, oof: np.ndarray) -> None:
        self._oof[(name, number)] = oof
        if self.storage:
            np.save(self.oof_dir / f"{name}-{number}.npy", oof)

    def _load_oof(self, name: str, number: int) -> np.ndarray:
        if (name, number) not in self._oof:
            self._oof[(name, number)] = np.load(self.oof_dir / f"{name}-{number}.npy")
        return self._oof[(name, number)]

    # -- the studies ------------------------------------------------------------------------------
    def study(self, name: str) -> optuna.Study:
        n = len(self.steps)
        pruner = (optuna.pruners.HyperbandPruner(min_resource=1, max_resource=n, reduction_factor=3)
                  if self.cfg.pruner == "hyperband" else optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2))
        study = optuna.create_study(
            study_name=f"{self.key}-{name}", storage=self.storage, direction="maximize", load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=self.cfg.seed, n_startup_trials=5, multivariate=True),
            pruner=pruner)
        if self.storage is not None:
            self._fail_dead_trials(study)
        return study

    def _fail_dead_trials(self, study: optuna.Study) -> None:
        """Close the trials a killed run left RUNNING, leaving a live search's alone. Optuna fails those whose
        heartbeat went silent; a run killed between creating a trial and its first heartbeat leaves one
        with no heartbeat at all, which Optuna's check skips: past the grace period it is dead too."""
        optuna.storages.fail_stale_trials(study)
        with self.storage.engine.connect() as con:
            beating = set(con.execute(sqlalchemy.text("SELECT trial_id FROM trial_heartbeats")).scalars())
        started_before = datetime.now() - timedelta(seconds=GRACE_S)
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if t._trial_id not in beating and t.datetime_start and t.datetime_start < started_before:
                try:
                    self.storage.set_trial_state_values(t._trial_id, state=optuna.trial.TrialState.FAIL)
                except optuna.exceptions.UpdateFinishedTrialError:  # its run finished it meanwhile
                    pass

    @staticmethod
    def spent_s(studies: dict[str, optuna.Study]) -> float:
        total = 0.0
        for s in studies.values():
            for t in s.get_trials(deepcopy=False, states=FINISHED):
                if t.datetime_start and t.datetime_complete:
                    total += (t.datetime_complete - t.datetime_start).total_seconds()
        return total

    def _callbacks(self, name: str):
        if not self.on_trial:
            return []
        return [lambda study, trial: self.on_trial(name, trial)]

    def _enqueue(self, study: optuna.Study, name: str, configs: list[dict], phase: str) -> None:
        """Queue known configurations (their tunable part) that the study has not tried."""
        space = self.cfg.candidates[name].get("space") or {}
        seen = [t.params for t in study.get_trials(deepcopy=False)]
        for config in configs:
            params = {k: v for k, v in config.items() if k in space}
            if params and params not in seen:
                study.enqueue_trial(params, user_attrs={"phase": phase}, skip_if_exists=True)
                seen.append(params)

    def refit_reserve_s(self, studies: dict[str, optuna.Study]) -> float:
        """Seconds to keep for refitting each family's best on every row: its fit time on a fold,
        scaled to all rows (and by REFIT_GROWTH), twice for the boosters that first find their rounds
        on a slice, and REFIT_OVERHEAD_S for its serving figures (single-row latency, size, holdout
        scores); then ENSEMBLE_OVERHEAD_S for each ensemble built on them."""
        tr = self.steps[-1][0]
        scale = REFIT_GROWTH * len(self.y) / max(len(tr), 1)
        done = [s for s in studies.values() if _has_complete(s)]
        total = sum(2 * scale * float(s.best_trial.user_attrs.get("fit_s", 0.0)) + REFIT_OVERHEAD_S for s in done)
        ensembles = 2 if self.cfg.ensemble.get("enabled") and len(done) > 1 else 0  # the stack and the blend
        return total + ensembles * ENSEMBLE_OVERHEAD_S

    def run(self, X_test: pd.DataFrame | None = None, y_test: np.ndarray | None = None) -> SearchResult:
        cfg = self.cfg
        started = time.monotonic()
        self.deadline = started + cfg.budget_s
        studies: dict[str, optuna.Study] = {}
        skipped: dict[str, str] = {}
        for name, spec in cfg.candidates.items():  # round 1: each candidate's defaults
            if studies and (self.spent_s(studies) > cfg.budget_s or self._out_of_time()):
                skipped[name] = f"skipped: time budget {cfg.budget_s:.0f}s spent"
                continue
            studies[name] = s = self.study(name)
            if not s.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
                self._enqueue(s, name, [spec.get("defaults") or {}], "defaults")
                if not s.get_trials(deepcopy=False):  # nothing tunable: run the defaults as they are
                    s.enqueue_trial({}, user_attrs={"phase": "defaults"})
                s.optimize(self.objective(name), n_trials=1, callbacks=self._callbacks(name), catch=(ValueError,))

        reserve = self.refit_reserve_s(studies)
        self.deadline = started + max(cfg.budget_s - reserve, 0.0)
        ranked = sorted((n for n in studies if _has_complete(studies[n])), key=lambda n: -studies[n].best_value)
        tunable = [n for n in ranked if cfg.candidates[n].get("space")][: cfg.tune_top_k]
        for name in tunable:  # round 2a: the portfolio of each tuned family
            self._enqueue(studies[name], name, cfg.candidates[name].get("portfolio") or [], "portfolio")
        for i, name in enumerate(tunable):  # round 2b: portfolio, then Bayesian search, on the best families
            left = min(cfg.budget_s - reserve - self.spent_s(studies), self.deadline - time.monotonic())
            done = len(studies[name].get_trials(deepcopy=False, states=FINISHED))
            cap = None if cfg.n_trials is None else max(cfg.n_trials - done, 0)
            if left <= 0 or cap == 0:
                continue
            studies[name].optimize(self.objective(name), timeout=left / (len(tunable) - i), n_trials=cap,
                                   callbacks=self._callbacks(name), catch=(ValueError,))
        search_s = time.monotonic() - started
        result = self._finish(studies, skipped, X_test, y_test)
        result.budget = {"search_budget_s": cfg.budget_s, "refit_reserve_s": reserve, "search_wall_s": search_s,
                         **{f"{p}_s": float(result.trials.loc[result.trials["phase"] == p, "duration_s"].sum())
                            for p in PHASES}, **result.budget}
        result.families = family_table(result.trials, self.steps, self.fidelity)
        return result

    # -- choose, refit, report ----------------------------------------------------------------------
    def _finish(self, studies, skipped, X_test, y_test) -> SearchResult:
        cfg = self.cfg
        best = {n: s.best_trial for n, s in studies.items() if _has_complete(s)}
        if not best:
            raise RuntimeError("no candidate finished a trial: see the trials table and params/train.yaml")
        t0 = time.monotonic()
        rows, fitted, oofs = [], {}, {}
        for name, t in best.items():
            oofs[name] = self._load_oof(name, t.number)
            model = self.fit(self.pipeline(name, t.user_attrs["settings"], refit=True), np.arange(len(self.y)), cfg.seed)
            fitted[name] = model
            rows.append(self._row(name, studies[name], t, model, X_test, y_test))
        refit_s, t0 = time.monotonic() - t0, time.monotonic()
        chosen, why = max(best, key=lambda n: best[n].value), "best mean cross-validated score"
        model, oof, params = fitted[chosen], oofs[chosen], best[chosen].user_attrs["settings"]
        scores = {n: t.value for n, t in best.items()}

        ens = cfg.ensemble
        if ens.get("enabled") and len(best) > 1:
            top = sorted(best, key=lambda n: -best[n].value)[: int(ens.get("max_members", 3))]
            top_oof = {n: oofs[n] for n in top}
            stacked, stack_oof = stack_score(top_oof, self.y, self.score, cfg.seed)
            stack = Stack.from_fitted([(n, fitted[n]) for n in top], top_oof, self.y, cfg.seed)
            # (kind, out-of-fold score and scores, model, members shown, params recorded)
            options = [("stack", stacked, stack_oof, stack, zip(top, (f"{c:.2f}" for c in stack.weights)), {"members": top})]
            weights, blend_score = greedy_weights(top_oof, self.y, self.score)
            if len(weights) > 1:
                blend = Blend.from_fitted([(n, fitted[n]) for n in weights], list(weights.values()))
                blend_oof = sum(w * oofs[n] for n, w in weights.items()) / sum(weights.values())
                options.append(("blend", blend_score, blend_oof, blend, weights.items(), {"weights": weights}))
            single_best = max(scores.values())
            for kind, score, ens_oof, ens_model, members, ens_params in options:
                rows.append(self._ensemble_row(kind, ens_model, ", ".join(f"{n}x{w}" for n, w in members), score,
                                               ens_oof, X_test, y_test))
                scores[kind] = score
                if score >= single_best + float(ens.get("min_gain", 0.001)) and \
                        score > (scores[chosen] if chosen in ("blend", "stack") else -np.inf):
                    chosen, model, oof, params = kind, ens_model, ens_oof, ens_params
                    why = (f"the {kind}'s out-of-fold {cfg.metric} {score:.4f} beats the best single model by at "
                           f"least ensemble.min_gain={ens.get('min_gain')}")
        case = value_case(scores, chosen, cfg.value_margin, cfg.metric)
        if case["kept_simple"]:
            chosen, why = case["simplest"], case["statement"]
            model, oof = fitted[chosen], oofs[chosen]
            params = best[chosen].user_attrs["settings"]
        rows += [{"candidate": n, "status": s} for n, s in skipped.items()]
        board = pd.DataFrame(rows)
        board["chosen"] = board["candidate"] == chosen
        board = board.sort_values("cv_mean", ascending=False, na_position="last").reset_index(drop=True)
        trials = pd.concat([_trials_frame(n, s) for n, s in studies.items()], ignore_index=True)
        budget = {"refit_s": refit_s, "ensemble_s": time.monotonic() - t0}
        return SearchResult(board, chosen, model, oof, self.scheme, params, self.key, trials, why, case, budget)

    def _row(self, name, study, t, model, X_test, y_test) -> dict:
        states = [x.state for x in study.get_trials(deepcopy=False)]
        row = {"candidate": name, "status": "evaluated", "cv_mean": t.value, "cv_std": t.user_attrs["cv_std"],
               "cv_pr_auc": t.user_attrs["cv_pr_auc"], "fit_s": t.user_attrs["fit_s"],
               "trials": states.count(optuna.trial.TrialState.COMPLETE),
               "pruned": states.count(optuna.trial.TrialState.PRUNED), "best_trial": t.number}
        return row | _serving_figures(model, self.X, X_test, y_test) | {"interpretability": INTERPRETABILITY[name]}

    def _ensemble_row(self, kind, model, members, score, oof, X_test, y_test) -> dict:
        keep = ~np.isnan(oof)
        return {"candidate": kind, "status": "evaluated", "cv_mean": score, "cv_std": np.nan,
                "cv_pr_auc": float(average_precision_score(self.y[keep], oof[keep])), "fit_s": np.nan,
                "trials": 0, "pruned": 0, "best_trial": None, "members": members} | \
            _serving_figures(model, self.X, X_test, y_test) | {"interpretability": INTERPRETABILITY[kind]}


def budget_split(budget: dict, *, pruning_s: float, selection_s: float, reference_s: float | None,
                 time_budget_s: float, pruning_share: float, tune_top_k: int) -> pd.DataFrame:
    """Where the stage's budget went, part by part (wall seconds), the reference outside it
    (`reference_s` None: it was off)."""
    rows = [("input pruning", pruning_s, f"at most {pruning_share:.0%} of the budget"),
            ("defaults (every family)", budget["defaults_s"], "round 1"),
            ("portfolio (tuned families)", budget["portfolio_s"], f"top {tune_top_k} families"),
            ("TPE (tuned families)", budget["tpe_s"], "until the budget less the refit reserve"),
            ("refit on every row", budget["refit_s"], f"reserved {budget['refit_reserve_s']:.0f} s"),
            ("ensembles (blend, stack)", budget["ensemble_s"], "on out-of-fold scores"),
            ("model selection, all told", selection_s, f"budget {time_budget_s:g} s ({selection_s / time_budget_s:.0%})"),
            ("AutoML reference (outside the budget)", reference_s or 0.0,
             "off" if reference_s is None else "FLAML at the same budget")]
    return pd.DataFrame(rows, columns=["part", "seconds", "note"])


def _steps(splits, y: np.ndarray, fidelity: float | None, seed: int) -> tuple[list, bool]:
    """(train rows, validation rows, final?) per step: every fold final; with one holdout slice and a
    fidelity share, first a stratified share of its training rows (the pruner's low rung), then all."""
    if len(splits) > 1 or not fidelity or fidelity >= 1:
        return [(tr, va, True) for tr, va in splits], False
    (tr, va), = splits
    rng = np.random.default_rng(seed)
    part = np.concatenate([rng.choice(tr[y[tr] == c], size=max(1, int(fidelity * (y[tr] == c).sum())), replace=False)
                           for c in np.unique(y[tr])])
    return [(np.sort(part), va, False), (tr, va, True)], True


def family_table(trials: pd.DataFrame, steps: list, fidelity: bool) -> pd.DataFrame:
    """Per candidate: trials completed, pruned by the pruner, stopped by the time budget, failed,
    how it was validated and the seconds it took (by phase)."""
    folds = "1 holdout slice, 2 fidelities" if fidelity else f"{len(steps)} fold{'s' if len(steps) > 1 else ''}"
    rows = []
    for name, t in trials.groupby("candidate", sort=False):
        stopped = (t["state"] == "PRUNED") & (t["stopped"] == "time budget")
        rows.append({"candidate": name, "trials": len(t), "complete": int((t["state"] == "COMPLETE").sum()),
                     "pruned": int(((t["state"] == "PRUNED") & ~stopped).sum()), "out_of_time": int(stopped.sum()),
                     "failed": int((t["state"] == "FAIL").sum()), "validation": folds,
                     **{f"{p}_s": float(t.loc[t["phase"] == p, "duration_s"].sum()) for p in PHASES},
                     "best": t.loc[t["state"] == "COMPLETE", "value"].max()})  # a pruned trial's value is a low rung's
    return pd.DataFrame(rows)


SIMPLICITY = ["logreg", "histgb", "lightgbm", "xgboost", "catboost", "mlp", "torch_mlp", "blend", "stack"]  # simplest first


def value_case(scores: dict[str, float], chosen: str, margin: float, metric: str) -> dict:
    """Does the chosen model earn its complexity? It must beat the simplest candidate's
    cross-validated score by `margin`; otherwise the simplest is kept (`kept_simple`)."""
    simplest = next(n for n in SIMPLICITY if n in scores)
    gain = scores[chosen] - scores[simplest]
    kept = chosen != simplest and gain < margin
    if chosen == simplest:
        text = f"{simplest}, the simplest candidate, scored best ({metric} {scores[simplest]:.4f})"
    elif kept:
        text = (f"{simplest} kept: {chosen} beat it by only {gain:+.4f} {metric}, less than train.value_margin "
                f"{margin}, so its complexity does not pay")
    else:
        text = (f"{chosen} beats the simplest candidate, {simplest}, by {gain:+.4f} cross-validated {metric} "
                f"(train.value_margin {margin})")
    return {"chosen": simplest if kept else chosen, "simplest": simplest, "challenger": chosen, "metric": metric,
            "margin": margin, "gain": float(gain), "kept_simple": bool(kept), "statement": text}


def _has_complete(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def _serving_figures(model, X: pd.DataFrame, X_test, y_test) -> dict:
    out = {"single_row_ms": single_row_latency_ms(model, X), "size_kb": model_size_kb(model)}
    if X_test is not None and y_test is not None and len(np.unique(y_test)) == 2:
        p = model.predict_proba(X_test)[:, 1]
        out.update(holdout_roc_auc=float(roc_auc_score(y_test, p)), holdout_pr_auc=float(average_precision_score(y_test, p)))
    return out


def _trials_frame(name: str, study: optuna.Study) -> pd.DataFrame:
    rows = []
    for t in study.get_trials(deepcopy=False):
        dur = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else None
        rows.append({"candidate": name, "trial": t.number, "state": t.state.name, "value": t.value,
                     "phase": t.user_attrs.get("phase", "tpe"), "stopped": t.user_attrs.get("stopped"),
                     "started_at": t.datetime_start.isoformat(timespec="seconds") if t.datetime_start else None,
                     "duration_s": dur, "params": json.dumps(t.params, default=str)})
    return pd.DataFrame(rows)


def single_row_latency_ms(model, X: pd.DataFrame, n: int = 50) -> float:
    """Median wall time of predict_proba on one row (what an API call pays for the model)."""
    rows = [X.iloc[[i % len(X)]] for i in range(n)]
    model.predict_proba(rows[0])
    times = []
    for r in rows:
        t0 = time.perf_counter()
        model.predict_proba(r)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def model_size_kb(model) -> float:
    buf = io.BytesIO()
    joblib.dump(model, buf)
    return buf.tell() / 1024
