"""FastAPI app over a serving bundle: `/v1/predict` with strict input validation.

Stateless: everything it needs is read from the bundle at start-up, so replicas scale sideways.
A bundle without a passing governance approval for its model version is refused at start-up.
Run it with `make serve` (uvicorn, bundle from $MINING_BUNDLE or models/serving).
"""


import os
from pathlib import Path
from typing import Any, Optional, Union

import joblib
import pandas as pd
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field, create_model

from mining.catalog import ARTEFACTS, member
from mining.charter import SEGMENTATION, task_of
from mining.deploy.bundle import check_approval
from mining.reports import read_json

MAX_BATCH = 1000


def record_model(inputs: dict[str, dict]) -> type[BaseModel]:
    """A pydantic model of one input record: every input required, extra fields refused."""
    fields: dict[str, Any] = {}
    for name, spec in inputs.items():
        base = float if spec["type"] == "number" else str
        constraint = {"ge": spec["minimum"]} if "minimum" in spec else {}
        annotation = Optional[base] if spec["nullable"] else base
        fields[name] = (annotation, Field(..., description=spec["description"], **constraint))
    return create_model("Record", __config__=ConfigDict(extra="forbid"), **fields)


def create_app(bundle_dir: Union[str, Path]) -> FastAPI:
    bundle_dir = Path(bundle_dir)
    info = read_json(bundle_dir / member("serving_info"))
    approval_file = bundle_dir / member("serving_approval")
    check_approval(read_json(approval_file) if approval_file.exists() else None, info["model_version"],
                   str(approval_file))
    model = joblib.load(bundle_dir / member("serving_model"))
    Record = record_model(info["inputs"])
    columns = list(info["inputs"])
    id_field = info.get("id_column")

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        records: list[Record] = Field(..., min_length=1, max_length=MAX_BATCH)  # type: ignore[valid-type]
        ids: Optional[list[str]] = Field(None, description=f"optional {id_field or 'row'} per record, echoed back")

    class Prediction(BaseModel):
        id: Optional[str] = None
        score: Optional[float] = Field(None, description="probability of the positive class (classifier)")
        flagged: Optional[bool] = Field(None, description="score at or above the operating threshold (classifier)")
        segment: Optional[int] = Field(None, description="assigned segment (segmenter)")

    class PredictResponse(BaseModel):
        model_version: str
        threshold: Optional[float] = None
        predictions: list[Prediction]

    app = FastAPI(title="mining scoring API", version=info["model_version"],
                  description=f"Predictions of the {info['model_type']} model of the data-mining lab.")
    app.state.bundle_dir = bundle_dir
    segmenter = task_of(info) == SEGMENTATION

    @app.get("/v1/health")
    def health() -> dict:
        return {"status": "ok", "model_version": info["model_version"]}

    @app.get("/v1/model")
    def model_info() -> dict:
        return {k: info.get(k) for k in ("task", "model_version", "model_type", "threshold")} | {"inputs": columns}

    @app.post("/v1/predict", response_model=PredictResponse, response_model_exclude_none=True)
    def predict(req: PredictRequest) -> PredictResponse:
        if req.ids is not None and len(req.ids) != len(req.records):
            raise HTTPException(422, detail=[{"loc": ["body", "ids"], "type": "value_error",
                                              "msg": f"{len(req.ids)} ids for {len(req.records)} records"}])
        X = pd.DataFrame([r.model_dump() for r in req.records], columns=columns).astype(
            {c: float for c, s in info["inputs"].items() if s["type"] == "number"})
        ids = req.ids or [None] * len(X)
        if segmenter:
            preds = [Prediction(id=i, segment=int(s)) for i, s in zip(ids, model.predict(X))]
        else:
            scores = model.predict_proba(X)[:, 1]
            preds = [Prediction(id=i, score=float(s), flagged=bool(s >= info["threshold"])) for i, s in zip(ids, scores)]
        return PredictResponse(model_version=info["model_version"], threshold=info.get("threshold"), predictions=preds)

    return app


def app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn --factory mining.deploy.api:app_from_env`."""
    return create_app(os.environ.get("MINING_BUNDLE", ARTEFACTS["serving"].path))


def records_from_frame(df: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready request records (NaN -> null)."""
    return df.astype(object).where(df.notna(), None).to_dict("records")
