"""One loaded bundle, ready to answer: scores, decisions, notes on unusual inputs, explanations.

The bundle's description says whether deploy verified the compiled form of its pipeline against
the pipeline itself (`scorer.kind` "compiled"); only then is it used, otherwise the pipeline scores
(a DataFrame per call: slower, same answers). Segmenters always go through their pipeline.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from xgboost import XGBClassifier

from mining.catalog import member
from mining.charter import SEGMENTATION, task_of
from mining.deploy.bundle import check_approval, frame_of, load_model
from mining.deploy.compiled import CompiledClassifier, compile_model
from mining.reports import read_json
from mining.train.catboost_native import CatBoostNative

TREES = (LGBMClassifier, XGBClassifier, HistGradientBoostingClassifier, CatBoostNative)


class Served:
    """A bundle's model behind `answer(records)`; refused at load when unapproved or tampered."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.info = read_json(self.folder / member("serving_info"))
        approval = self.folder / member("serving_approval")
        check_approval(read_json(approval) if approval.exists() else None, self.info["model_version"], str(approval))
        self.model = load_model(self.folder, self.info)
        self.version: str = self.info["model_version"]
        self.inputs: dict[str, dict] = self.info["inputs"]
        self.segmenter = task_of(self.info) == SEGMENTATION
        self.threshold = self.info.get("threshold")
        verified = (self.info.get("scorer") or {}).get("kind") == "compiled"
        self.compiled: CompiledClassifier | None = compile_model(self.model) if verified else None
        self._explainers: dict[int, object] = {}

    @property
    def scorer(self) -> str:
        return "compiled" if self.compiled is not None else "pipeline"

    def outputs(self, records: list[dict]) -> np.ndarray:
        """Per record: the positive-class score (classifier) or the segment (segmenter)."""
        if self.compiled is not None:
            return self.compiled.scores(records)
        X = frame_of(records, self.inputs)
        return self.model.predict(X).astype(int) if self.segmenter else self.model.predict_proba(X)[:, 1]

    def decision(self, output: float) -> str:
        if self.segmenter:
            return f"segment {int(output)}"
        return "flagged" if output >= self.threshold else "not flagged"

    def notes(self, record: dict) -> list[str]:
        """What was unusual about a record: a category training never saw (scored as the pipeline's
        'other' level, or as no level), a number outside the range training saw."""
        out = []
        for name, spec in self.inputs.items():
            v = record.get(name)
            if v is None:
                continue
            if "categories" in spec and v not in spec["categories"]:
                out.append(f"{name}: {v!r} was not seen in training: scored as an unknown level")
            elif "range" in spec and not spec["range"][0] <= v <= spec["range"][1]:
                out.append(f"{name}: {v} is outside the range seen in training {spec['range']}")
        return out

    def explain(self, record: dict, top: int) -> dict:
        """The inputs that moved this record's score most (tree SHAP, log-odds), in words. A blend
        is explained through its heaviest member, as the evaluation report does."""
        if self.compiled is None:
            raise LookupError(f"model {self.version} is served by its pipeline ({self.info['model_type']}): "
                              "explanations need the compiled form of a tree model")
        idx = max(range(len(self.compiled.parts)), key=lambda i: self.compiled.parts[i][0])
        weight, row, _ = self.compiled.parts[idx]
        est = self.compiled.estimators[idx]
        if not isinstance(est, TREES):
            raise LookupError(f"{type(est).__name__} is not a tree model: see the evaluation report's SHAP page")
        z = np.array([row(record)], dtype=float)
        if isinstance(est, CatBoostNative):  # CatBoost's own tree SHAP over its category codes
            values = est.shap_values(z)[0]
        else:
            if idx not in self._explainers:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    import shap
                self._explainers[idx] = shap.TreeExplainer(est)
            with warnings.catch_warnings():  # shap warns that LightGBM's output shape changed, every call
                warnings.simplefilter("ignore")
                values = np.asarray(self._explainers[idx].shap_values(z))
        values = values[..., 1] if values.ndim == 3 else values
        by_input: dict[str, float] = {}
        for owner, v in zip(row.owners, values[0]):
            by_input[owner] = by_input.get(owner, 0.0) + float(v)
        ranked = sorted(by_input.items(), key=lambda kv: abs(kv[1]), reverse=True)[:top]
        reasons = [{"input": name, "value": record.get(name), "contribution": round(c, 4),
                    "text": f"{name} = {record.get(name)!r} {'raises' if c > 0 else 'lowers'} the score "
                            f"({c:+.3f} log-odds)"} for name, c in ranked]
        note = "the model" if len(self.compiled.parts) == 1 else f"the blend's heaviest member (weight {weight:.2f})"
        return {"explained": note, "reasons": reasons}
