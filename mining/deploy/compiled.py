"""The served pipeline compiled to plain arrays: one record in, one score out, without pandas.

scikit-learn's pipeline builds a DataFrame per call, which costs milliseconds per record; the
fitted parameters it applies are small (medians, category tables, target encodings, scaler
moments), so at load time they are read off the fitted steps into dicts and arrays, and the
boosters are called directly (LightGBM single-threaded, XGBoost `inplace_predict`). `compile_model`
refuses, with NotCompilable, any step it does not know; `verify` checks the compiled scores
against the pipeline's own `predict_proba` on real rows, and deploy serves the compiled form only
when they agree to 1e-6 (the pipeline otherwise, and the bundle says which).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder
from xgboost import XGBClassifier

from mining.evaluate.calibration import Calibrated, Calibration
from mining.features.encoding import _as_text
from mining.features.impute import GroupMedianImputer
from mining.features.interactions import combine
from mining.train.blend import Blend
from mining.train.early_stopping import unwrap

TOLERANCE = 1e-6
Record = dict  # input name -> JSON value (float, str or None)


class NotCompilable(TypeError):
    """A pipeline step the compiler does not know: the pipeline itself is served instead."""


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _text(v) -> str:
    """What `_as_text` makes of one value (the pipeline's categorical spelling)."""
    return "missing" if _missing(v) else str(v)


def _number(v) -> float | None:
    return None if _missing(v) else float(v)


def _group_imputer(step: GroupMedianImputer) -> Callable[[Record], Record]:
    rules = [(col, [(g, {str(k): float(m) for k, m in med.items()}) for med, g in zip(levels, groups)], overall)
             for col, (levels, groups, overall) in step.medians_.items()]

    def fill(rec: Record) -> Record:
        rec = dict(rec)
        for col, tables, overall in rules:
            if not _missing(rec.get(col)):
                continue
            value = overall
            for g, table in tables:
                key = rec.get(g)
                if not _missing(key) and str(key) in table:
                    value = table[str(key)]
                    break
            rec[col] = value
        return rec
    return fill


def _numeric(pipe: Pipeline, cols: list[str]) -> Callable[[Record], list[float]]:
    steps = [s for _, s in pipe.steps]
    imputer = steps[0]
    if not isinstance(imputer, SimpleImputer) or imputer.strategy != "median" or len(steps) > 2 or \
            (len(steps) == 2 and not isinstance(steps[1], StandardScaler)):
        raise NotCompilable(f"numeric steps {[type(s).__name__ for s in steps]}")
    stats = [float(s) for s in imputer.statistics_]
    flagged = list(imputer.indicator_.features_) if imputer.add_indicator else []
    scaler = steps[1] if len(steps) == 2 else None
    mean = scaler.mean_ if scaler is not None and scaler.with_mean else None
    scale = scaler.scale_ if scaler is not None and scaler.with_std else None

    def encode(rec: Record) -> list[float]:
        raw = [rec[c] for c in cols]
        out = [stats[i] if _missing(v) else float(v) for i, v in enumerate(raw)]
        out += [1.0 if _missing(raw[i]) else 0.0 for i in flagged]
        if scaler is not None:
            z = np.asarray(out)
            z = z - mean if mean is not None else z
            out = list(z / scale if scale is not None else z)
        return out
    encode.owners = list(cols) + [cols[i] for i in flagged]
    return encode


def _onehot(enc: OneHotEncoder, cols: list[str]) -> Callable[[Record], list[float]]:
    if enc.drop is not None or enc.handle_unknown not in ("infrequent_if_exist", "ignore"):
        raise NotCompilable(f"OneHotEncoder(drop={enc.drop}, handle_unknown={enc.handle_unknown})")
    tables, width, owners = [], 0, []
    infrequent = getattr(enc, "infrequent_categories_", None) or [None] * len(cols)
    for cats, rare in zip(enc.categories_, infrequent):
        rare = set() if rare is None else {str(c) for c in rare}
        frequent = [str(c) for c in cats if str(c) not in rare]
        index = {c: width + i for i, c in enumerate(frequent)}
        other = width + len(frequent) if rare else None
        index.update(dict.fromkeys(rare, other))
        tables.append((index, other))
        width += len(frequent) + (1 if rare else 0)
        owners += [cols[len(tables) - 1]] * (len(frequent) + (1 if rare else 0))

    def encode(rec: Record) -> list[float]:
        out = [0.0] * width
        for c, (index, other) in zip(cols, tables):
            pos = index.get(_text(rec[c]), other)
            if pos is not None:
                out[pos] = 1.0
        return out
    encode.owners = owners
    return encode


def _ordinal(enc: OrdinalEncoder, cols: list[str]) -> Callable[[Record], list[float]]:
    """Category codes, read off the fitted encoder by encoding each level it knows (rare levels
    share a code; an unseen one gets its `unknown_value`)."""
    if enc.handle_unknown != "use_encoded_value":
        raise NotCompilable(f"OrdinalEncoder(handle_unknown={enc.handle_unknown})")
    first = [cats[0] for cats in enc.categories_]
    tables = []
    for i, cats in enumerate(enc.categories_):
        grid = pd.DataFrame([first[:i] + [c] + first[i + 1:] for c in cats], columns=enc.feature_names_in_)
        tables.append({str(c): float(code) for c, code in zip(cats, enc.transform(grid)[:, i])})
    unknown = float(enc.unknown_value)

    def encode(rec: Record) -> list[float]:
        return [t.get(_text(rec[c]), unknown) for c, t in zip(cols, tables)]
    encode.owners = list(cols)
    return encode


def _target(enc: TargetEncoder, scaler: StandardScaler | None, cols: list[str]) -> Callable[[Record], list[float]]:
    if enc.target_type_ != "binary":
        raise NotCompilable(f"TargetEncoder of a {enc.target_type_} target")
    tables = [{str(c): float(e) for c, e in zip(cats, codes)} for cats, codes in zip(enc.categories_, enc.encodings_)]
    prior = float(enc.target_mean_)

    def encode(rec: Record) -> list[float]:
        out = [t.get(_text(rec[c]), prior) for c, t in zip(cols, tables)]
        if scaler is not None:
            out = list((np.asarray(out) - scaler.mean_) / scaler.scale_)
        return out
    encode.owners = list(cols)
    return encode


def _encoder(name: str, pipe, cols: list[str]) -> Callable[[Record], list[float]]:
    steps = [s for _, s in pipe.steps] if isinstance(pipe, Pipeline) else [pipe]
    if name == "num":
        return _numeric(pipe, cols)
    texts = isinstance(steps[0], FunctionTransformer) and steps[0].func is _as_text
    if texts and len(steps) == 2 and isinstance(steps[1], OneHotEncoder):
        return _onehot(steps[1], cols)
    if texts and len(steps) == 2 and isinstance(steps[1], OrdinalEncoder):
        return _ordinal(steps[1], cols)
    if texts and isinstance(steps[1], TargetEncoder) and len(steps) <= 3:
        scaler = steps[2] if len(steps) == 3 else None
        if scaler is not None and not isinstance(scaler, StandardScaler):
            raise NotCompilable(f"{type(scaler).__name__} after a target encoder")
        return _target(steps[1], scaler, cols)
    raise NotCompilable(f"transformer {name!r}: {[type(s).__name__ for s in steps]}")


def _preprocessor(pre: Pipeline) -> Callable[[Record], list[float]]:
    """A record to the row the estimator was fitted on (domain imputation, then per-kind encoding)."""
    names = [n for n, _ in pre.steps]
    if names not in (["domain_impute", "encode"], ["domain_impute", "interactions", "encode"]) or \
            not isinstance(pre.named_steps["encode"], ColumnTransformer):
        raise NotCompilable(f"preprocessing steps {names}")
    impute = _group_imputer(pre.named_steps["domain_impute"])
    derived = list((pre.named_steps["interactions"].specs or {}).items()) if "interactions" in names else []

    def fill(rec: Record) -> Record:
        rec = impute(rec)
        if derived:
            rec = {**rec, **{n: combine(s["kind"], _number(rec.get(s["a"])), _number(rec.get(s["b"])))
                             for n, s in derived}}
        return rec
    ct = pre.named_steps["encode"]
    parts = [_encoder(name, trans, list(cols)) for name, trans, cols in ct.transformers_
             if name != "remainder" and trans != "drop" and len(cols)]

    def row(rec: Record) -> list[float]:
        rec = fill(rec)
        out: list[float] = []
        for part in parts:
            out += part(rec)
        return out
    row.owners = [o for part in parts for o in part.owners]  # the input behind each encoded column
    return row


def _estimator(est) -> Callable[[np.ndarray], np.ndarray]:
    """Positive-class probability of encoded rows, straight from the booster where there is one."""
    est = unwrap(est)
    if isinstance(est, LGBMClassifier):
        booster = est.booster_
        return lambda Z: booster.predict(Z, num_threads=1)
    if isinstance(est, XGBClassifier):
        booster = est.get_booster()
        best = getattr(est, "best_iteration", None)
        rounds = (0, best + 1) if best is not None and est.get_params().get("early_stopping_rounds") else (0, 0)
        return lambda Z: booster.inplace_predict(Z, iteration_range=rounds)
    if hasattr(est, "predict_proba"):
        return lambda Z: est.predict_proba(Z)[:, 1]
    raise NotCompilable(f"estimator {type(est).__name__} has no predict_proba")


class CompiledClassifier:
    """`scores(records)`: the positive-class probability of each record, as the pipeline gives it."""

    def __init__(self, parts: list[tuple[float, Callable, Callable]], estimators: list,
                 calibration: Calibration | None = None):
        self.parts = parts  # (weight, record -> encoded row, encoded rows -> probability)
        self.estimators = estimators  # the fitted estimator of each part (for explanations)
        self.calibration = calibration or Calibration()

    def scores(self, records: Sequence[Record]) -> np.ndarray:
        total = np.zeros(len(records))
        for weight, row, predict in self.parts:
            total += weight * np.asarray(predict(np.array([row(r) for r in records], dtype=float)), dtype=float)
        return self.calibration.apply(total)


def compile_model(model) -> CompiledClassifier:
    """The compiled form of a fitted classifier pipeline (or a blend of them, either possibly behind
    a calibration); NotCompilable else."""
    if isinstance(model, Calibrated):
        inner = compile_model(model.model)
        return CompiledClassifier(inner.parts, inner.estimators, model.calibration)
    if isinstance(model, Blend):
        w = np.asarray(model.weights, dtype=float)
        members = [(float(wi / w.sum()), m) for wi, (_, m) in zip(w, model.members_)]
    elif isinstance(model, Pipeline):
        members = [(1.0, model)]
    else:
        raise NotCompilable(f"model {type(model).__name__}")
    parts = []
    for weight, pipe in members:
        if [n for n, _ in pipe.steps] != ["features", "model"]:
            raise NotCompilable(f"pipeline steps {[n for n, _ in pipe.steps]}")
        parts.append((weight, _preprocessor(pipe.named_steps["features"]), _estimator(pipe.named_steps["model"])))
    return CompiledClassifier(parts, [unwrap(pipe.named_steps["model"]) for _, pipe in members])


def max_difference(compiled: CompiledClassifier, model, records: list[Record], frame) -> float:
    """Largest absolute gap between the compiled scores of `records` and the pipeline's
    `predict_proba` on the same records as a frame (as the API would build it)."""
    return float(np.max(np.abs(compiled.scores(records) - model.predict_proba(frame)[:, 1])))
