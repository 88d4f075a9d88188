"""FastAPI app over a serving bundle: `/v1/predict` with strict input validation, behind API keys.

Stateless: everything it needs is read from the bundle at start-up, so replicas scale sideways.
At start-up a bundle is refused when it has no passing governance approval for its model version
or when its model file differs from what deploy recorded (never unpickled then). Every call but
`/v1/health` needs an `X-API-Key` whose scopes cover it (401 without a known key, 403 outside its
scopes) and within its requests per minute (429 with Retry-After; counted in Redis by
`deploy.redis_url`, so replicas share it). Run it with `make serve` (uvicorn, bundle from $MINING_BUNDLE or models/serving), which
refuses to start without a key unless `deploy.auth: false` says so.
"""

import logging
import os
from pathlib import Path
from typing import Any, Optional, Union

import pandas as pd
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field, create_model

from mining.catalog import ARTEFACTS, Catalog, member
from mining.charter import SEGMENTATION, task_of
from mining.deploy.bundle import check_approval, load_model
from mining.deploy.keys import KeyStore
from mining.deploy.ratelimit import RateLimit
from mining.params import load_params, project_root
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


def authorized(keys: KeyStore | None, scope: str, limit: RateLimit | None = None):
    """A dependency: the calling app's name, or 401 (no or unknown key) / 403 (scope not granted) /
    429 with Retry-After (the key's requests per minute used up)."""
    def caller(x_api_key: Optional[str] = Header(None, description="the key `mining keys add` printed"),
               x_purpose: Optional[str] = Header(None, description="why this call is made (recorded)")) -> str:
        if keys is None:
            return "anonymous"
        if not x_api_key:
            raise HTTPException(401, "missing X-API-Key header", headers={"WWW-Authenticate": "API-Key"})
        found = keys.lookup(x_api_key)
        if found is None:
            raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "API-Key"})
        app_name, scopes = found
        if scope not in scopes:
            raise HTTPException(403, f"the key of {app_name} lacks scope {scope!r} (it has {sorted(scopes)})")
        wait = limit.wait_s(app_name) if limit is not None else 0
        if wait:
            raise HTTPException(429, f"rate limit of {limit.item} for {app_name} reached; retry in {wait} s",
                                headers={"Retry-After": str(wait)})
        return app_name
    return Depends(caller)


def create_app(bundle_dir: Union[str, Path], keys: KeyStore | None = None, limit: RateLimit | None = None) -> FastAPI:
    """The API over one bundle; `keys` None serves without authentication (`deploy.auth: false`),
    `limit` None without a rate limit."""
    bundle_dir = Path(bundle_dir)
    info = read_json(bundle_dir / member("serving_info"))
    approval_file = bundle_dir / member("serving_approval")
    check_approval(read_json(approval_file) if approval_file.exists() else None, info["model_version"],
                   str(approval_file))
    model = load_model(bundle_dir, info)
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
    def model_info(caller: str = authorized(keys, "predict", limit)) -> dict:
        return {k: info.get(k) for k in ("task", "model_version", "model_type", "threshold")} | {"inputs": columns}

    @app.post("/v1/predict", response_model=PredictResponse, response_model_exclude_none=True)
    def predict(req: PredictRequest, caller: str = authorized(keys, "predict", limit)) -> PredictResponse:
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


def key_store(params) -> KeyStore:
    """The project's key store: `deploy.keys_url`, else the catalog's SQLite file."""
    return KeyStore(params["deploy"]["keys_url"] or f"sqlite:///{Catalog(params.root)['api_keys']}")


def app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn --factory mining.deploy.api:app_from_env` (what `make serve` runs)."""
    params = load_params(root=project_root())
    bundle = os.environ.get("MINING_BUNDLE", str(params.path(ARTEFACTS["serving"].path)))
    if not params["deploy"]["auth"]:
        logging.getLogger("uvicorn.error").warning("deploy.auth is false: the API answers anyone, without a key")
        return create_app(bundle)
    keys = key_store(params)
    if not keys.apps():
        raise RuntimeError("no API key yet: create one with `mining keys add APP --scopes predict` "
                           "(or set deploy.auth: false in params/deploy.yaml to serve without keys)")
    return create_app(bundle, keys, RateLimit(params["deploy"]["rate_limit_per_minute"], params["deploy"]["redis_url"]))


def records_from_frame(df: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready request records (NaN -> null)."""
    return df.astype(object).where(df.notna(), None).to_dict("records")
