"""FastAPI app over a serving bundle (and optionally a candidate): the frozen `/v1` contract.

Endpoints: `/v1/predict` (records, or ids whose features come from the online store),
`/v1/explain` (the top reasons for one decision), `/v1/models`, `/healthz`, `/readyz`, `/metrics`.
Stateless apart from caches: everything is read from the bundles at start-up, so replicas scale
sideways. A bundle without a passing governance approval for its model version, or whose model
file differs from what deploy recorded, is refused (never unpickled). Every `/v1` call needs an
`X-API-Key` whose scopes cover it (401 / 403) within its requests per minute (429 with
Retry-After). Each scored record goes to the inference log with the caller, its `X-Purpose`, the
model version and route (live, canary, shadow). `make serve` runs it (`mining serve`).
"""

import time
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Optional, Union

import numpy as np
import orjson
from cachetools import TTLCache
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from mining.deploy.cache import PredictionCache, canonical, features_hash
from mining.deploy.inference_log import InferenceLog
from mining.deploy.keys import KeyStore
from mining.deploy.metrics import ApiMetrics
from mining.deploy.ratelimit import RateLimit
from mining.deploy.routing import CANARY, LIVE, SHADOW, route
from mining.deploy.scoring import Served

INLINE_RECORDS = 32  # larger batches are scored in the thread pool, off the event loop


class Settings(BaseModel):
    """What the app needs besides the bundles (from params/deploy.yaml in `mining serve`)."""
    model_config = ConfigDict(arbitrary_types_allowed=True)
    keys: Optional[KeyStore] = None  # None: no authentication (deploy.auth: false)
    keys_cache_s: float = 5
    limit: Optional[RateLimit] = None
    cache: Optional[PredictionCache] = None
    log: Optional[InferenceLog] = None
    pseudonym: Any = None  # id -> pseudonym for the log
    online: Any = None  # OnlineStore: ids -> feature records
    unseen_categories: Literal["other", "refuse"] = "other"
    max_body_bytes: int = 1 << 20
    max_records: int = 1000
    canary_share: float = 0.05
    shadow: bool = False


def record_model(inputs: dict[str, dict], refuse_unseen: bool) -> type[BaseModel]:
    """A pydantic model of one input record: extra fields refused; inputs nullable in training, or
    added after the /v1 contract was frozen, may be null or left out; with `refuse_unseen`, a
    category is one of those seen in training."""
    fields: dict[str, Any] = {}
    for name, spec in inputs.items():
        if spec["type"] == "number":
            base: Any = float
        elif refuse_unseen and spec.get("categories"):
            base = Literal[tuple(spec["categories"])]
        else:
            base = str
        constraint = {"ge": spec["minimum"]} if "minimum" in spec else {}
        optional = spec.get("added_after_v1", False)
        annotation = Optional[base] if spec["nullable"] or optional else base
        default = None if optional else ...
        desc = spec["description"] + (f" (training range {spec['range']})" if "range" in spec else "")
        fields[name] = (annotation, Field(default, description=desc, **constraint))
    return create_model("Record", __config__=ConfigDict(extra="forbid"), **fields)


class Prediction(BaseModel):
    id: Optional[str] = None
    model_version: str = Field(..., description="the version that answered (the candidate's under a canary)")
    score: Optional[float] = Field(None, description="probability of the positive class (classifier)")
    flagged: Optional[bool] = Field(None, description="score at or above the operating threshold (classifier)")
    segment: Optional[int] = Field(None, description="assigned segment (segmenter)")
    notes: Optional[list[str]] = Field(None, description="unseen categories or numbers outside the training range")


class PredictResponse(BaseModel):
    request_id: str
    model_version: str = Field(..., description="the live version")
    threshold: Optional[float] = None
    predictions: list[Prediction]


class Reason(BaseModel):
    input: str
    value: Union[float, str, None]
    contribution: float = Field(..., description="SHAP value in log-odds, summed over the input's encoded columns")
    text: str


class ExplainResponse(BaseModel):
    request_id: str
    model_version: str
    score: float
    flagged: bool
    explained: str
    reasons: list[Reason]


def json_response(body: dict, status: int = 200, background: BackgroundTask | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", background=background)


def authorized(settings: Settings, scope: str, replayable: bool = False):
    """A dependency: the calling app, its purpose and the time to log (None: now), or 401 (no or
    unknown key) / 403 (scope not granted) / 429 with Retry-After (the key's requests per minute used
    up). Key lookups are reused for `keys_cache_s`. On `replayable` endpoints (those that log) a
    replayed request's time (`X-Replay-Time`) is taken from a key with the `replay` scope."""
    seen: TTLCache = TTLCache(maxsize=10_000, ttl=settings.keys_cache_s) if settings.keys_cache_s else None

    def identify(x_api_key: Optional[str], replay: bool) -> str:
        keys, limit = settings.keys, settings.limit
        if keys is None:
            if replay:
                raise HTTPException(403, "X-Replay-Time needs a key with the replay scope (this server has no keys)")
            return "anonymous"
        if not x_api_key:
            raise HTTPException(401, "missing X-API-Key header", headers={"WWW-Authenticate": "API-Key"})
        found = seen.get(x_api_key) if seen is not None else None
        if found is None:
            found = keys.lookup(x_api_key) or ("", frozenset())
            if seen is not None:
                seen[x_api_key] = found
        app_name, scopes = found
        if not app_name:
            raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "API-Key"})
        if scope not in scopes:
            raise HTTPException(403, f"the key of {app_name} lacks scope {scope!r} (it has {sorted(scopes)})")
        if replay and "replay" not in scopes:
            raise HTTPException(403, f"X-Replay-Time needs the replay scope; the key of {app_name} has {sorted(scopes)}")
        wait = limit.wait_s(app_name) if limit is not None else 0
        if wait:
            raise HTTPException(429, f"rate limit of {limit.item} for {app_name} reached; retry in {wait} s",
                                headers={"Retry-After": str(wait)})
        return app_name

    async def caller(x_api_key: Optional[str] = Header(None, description="the key `mining keys add` printed"),
                     x_purpose: Optional[str] = Header(None, max_length=200,
                                                       description="why this call is made (recorded in the log)"),
                     ) -> tuple[str, Optional[str], Optional[str]]:
        return identify(x_api_key, False), x_purpose, None

    async def replaying_caller(
            x_api_key: Optional[str] = Header(None, description="the key `mining keys add` printed"),
            x_purpose: Optional[str] = Header(None, max_length=200, description="why this call is made (recorded in the log)"),
            x_replay_time: Optional[datetime] = Header(
                None, description="traffic replays only (a key with the replay scope): the time to log"),
    ) -> tuple[str, Optional[str], Optional[str]]:
        at = None
        if x_replay_time is not None:
            if x_replay_time.tzinfo is None:
                raise HTTPException(422, detail=[{"loc": ["header", "x-replay-time"], "type": "value_error",
                                                  "msg": "give the replay time with its UTC offset"}])
            at = x_replay_time.astimezone(timezone.utc).isoformat(timespec="milliseconds")
        return identify(x_api_key, at is not None), x_purpose, at
    return Depends(replaying_caller if replayable else caller)


class Guard:
    """ASGI middleware: body size limit (413) and per-path request counts and latency."""

    def __init__(self, app, metrics: ApiMetrics, max_body_bytes: int):
        self.app, self.metrics, self.max_body = app, metrics, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0, status = time.perf_counter(), [500]
        path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and int(length) > self.max_body:
            await JSONResponse({"detail": f"request body of {int(length)} bytes exceeds {self.max_body}"},
                               status_code=413)(scope, receive, send)
            self.metrics.requests.labels(path, "413").inc()
            return

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.requests.labels(path, str(status[0])).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - t0)


KNOWN_PATHS = {"/v1/predict", "/v1/explain", "/v1/models", "/v1/health", "/v1/model", "/healthz", "/readyz",
               "/metrics", "/openapi.json", "/docs"}


def create_app(bundle_dir: Union[str, Path], keys: KeyStore | None = None, limit: RateLimit | None = None,
               settings: Settings | None = None, candidate_dir: Union[str, Path, None] = None) -> FastAPI:
    """The API over one bundle (and a candidate for canary or shadow traffic); `keys` None serves
    without authentication (`deploy.auth: false`), `limit` None without a rate limit."""
    settings = settings or Settings()
    settings.keys = keys if keys is not None else settings.keys
    settings.limit = limit if limit is not None else settings.limit
    live = Served(Path(bundle_dir))
    candidate = Served(Path(candidate_dir)) if candidate_dir else None
    if candidate is not None and candidate.inputs.keys() != live.inputs.keys():
        raise ValueError(f"candidate {candidate.version} takes other inputs than live {live.version}: "
                         "a canary needs the same request contract")
    served = {live.version: live} | ({candidate.version: candidate} if candidate else {})
    for model in served.values():  # warm-up: the first real call should not pay for lazy set-up
        model.outputs([typical_record(model.inputs)])
    Record = record_model(live.inputs, settings.unseen_categories == "refuse")
    metrics = ApiMetrics()

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
            {"required": ["records"]}, *([{"required": ["ids"]}] if settings.online is not None else [])]})
        records: Optional[list[Record]] = Field(  # type: ignore[valid-type]
            None, min_length=1, max_length=settings.max_records,
            description="input records; leave out to score `ids` from the online feature store")
        ids: Optional[list[str]] = Field(None, min_length=1, max_length=settings.max_records,
                                         description=f"{live.info.get('id_column') or 'row'} per record (echoed "
                                                     "back, pseudonymised in the log), or alone: looked up")

    class ExplainRequest(BaseModel):
        model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
            {"required": ["record"]}, *([{"required": ["id"]}] if settings.online is not None else [])]})
        record: Optional[Record] = None  # type: ignore[valid-type]
        id: Optional[str] = None
        top: int = Field(3, ge=1, le=20)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if settings.log is not None:
            settings.log.close()

    app = FastAPI(title="mining scoring API", version=f"1 (model {live.version})", lifespan=lifespan,
                  description=f"Predictions of the {live.info['model_type']} model of the data-mining lab. "
                              "The /v1 contract is frozen: later models only add optional inputs.")
    app.state.bundle_dir = Path(bundle_dir)
    app.state.settings = settings
    app.state.metrics = metrics
    app.add_middleware(Guard, metrics=metrics, max_body_bytes=settings.max_body_bytes)

    def records_for(req) -> tuple[list[dict], list[Optional[str]]]:
        if req.records is not None:
            if req.ids is not None and len(req.ids) != len(req.records):
                raise HTTPException(422, detail=[{"loc": ["body", "ids"], "type": "value_error",
                                                  "msg": f"{len(req.ids)} ids for {len(req.records)} records"}])
            return [r.model_dump() for r in req.records], req.ids or [None] * len(req.records)
        if not req.ids:
            raise HTTPException(422, detail=[{"loc": ["body", "records"], "type": "missing",
                                              "msg": "give records, or ids to look up in the online feature store"}])
        if settings.online is None:
            raise HTTPException(422, detail=[{"loc": ["body", "ids"], "type": "value_error",
                                              "msg": "this server has no online feature store: send records"}])
        found = settings.online.lookup(req.ids)
        missing = [i for i in req.ids if i not in found]
        if missing:
            raise HTTPException(404, f"no online features for ids {missing[:10]}"
                                     f"{' and more' if len(missing) > 10 else ''}")
        return [{k: found[i].get(k) for k in live.inputs} for i in req.ids], list(req.ids)

    def score(model: Served, blobs: list[bytes], records: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """Outputs of `model` for `records`, from the cache where it has them; (outputs, hit mask)."""
        n = len(records)
        keys = [f"{model.version}:{features_hash(b)}" for b in blobs]
        cached = settings.cache.get_many(keys) if settings.cache is not None else [None] * n
        hit = np.array([c is not None for c in cached], dtype=bool)
        out = np.array([c if c is not None else np.nan for c in cached], dtype=float)
        if not hit.all():
            miss = np.flatnonzero(~hit)
            out[miss] = model.outputs([records[i] for i in miss])
            if settings.cache is not None:
                settings.cache.put_many({keys[i]: float(out[i]) for i in miss})
        if settings.cache is not None:
            metrics.cache.labels("hit").inc(int(hit.sum()))
            metrics.cache.labels("miss").inc(int(n - hit.sum()))
        return out, hit

    def log_rows(request_id: str, caller: tuple, model: Served, route_name: str, ids, blobs, outputs, hits,
                 latency_ms: float) -> None:
        metrics.records.labels(model.version, route_name).inc(len(outputs))
        if settings.log is None:
            return
        at = caller[2] or datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        pseudo = settings.pseudonym or (lambda v: None)
        settings.log.write([{
            "request_id": request_id, "at": at, "app": caller[0], "purpose": caller[1],
            "model_version": model.version, "route": route_name, "record_id": pseudo(i),
            "features_sha256": features_hash(b), "features": b.decode(), "score": None if model.segmenter else float(o),
            "decision": model.decision(o), "cached": bool(h), "latency_ms": latency_ms,
        } for i, b, o, h in zip(ids, blobs, outputs, hits)])

    def answer(req, caller: tuple) -> tuple[dict, Optional[BackgroundTask]]:
        t0 = time.perf_counter()
        request_id = uuid.uuid4().hex
        records, ids = records_for(req)
        blobs = [canonical(r) for r in records]
        routes = [route(i if i is not None else features_hash(b), settings.canary_share, candidate is not None,
                        settings.shadow) for i, b in zip(ids, blobs)]
        outputs, hits = np.empty(len(records)), np.zeros(len(records), dtype=bool)
        versions = [live.version if r == LIVE else candidate.version for r in routes]
        groups = [(name, model, [k for k, r in enumerate(routes) if r == name])
                  for name, model in ((LIVE, live), (CANARY, candidate))]
        groups = [g for g in groups if g[2]]
        for _, model, idx in groups:
            outputs[idx], hits[idx] = score(model, [blobs[k] for k in idx], [records[k] for k in idx])
        preds = []
        for k, (i, o, v) in enumerate(zip(ids, outputs, versions)):
            model = served[v]
            p: dict[str, Any] = {"model_version": v}
            if i is not None:
                p["id"] = i
            if model.segmenter:
                p["segment"] = int(o)
            else:
                p["score"], p["flagged"] = float(o), bool(o >= model.threshold)
            notes = model.notes(records[k])
            if notes:
                p["notes"] = notes
            preds.append(p)
        latency_ms = (time.perf_counter() - t0) * 1000
        for route_name, model, idx in groups:
            log_rows(request_id, caller, model, route_name, [ids[k] for k in idx], [blobs[k] for k in idx],
                     outputs[idx], hits[idx], latency_ms)
        body = {"request_id": request_id, "model_version": live.version, "predictions": preds}
        if live.threshold is not None:
            body["threshold"] = live.threshold
        shadow = None
        if candidate is not None and settings.shadow:
            def shadow_score():
                t1 = time.perf_counter()
                out, hit = score(candidate, blobs, records)
                log_rows(request_id, caller, candidate, SHADOW, ids, blobs, out, hit,
                         (time.perf_counter() - t1) * 1000)
            shadow = BackgroundTask(shadow_score)
        return body, shadow

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "not ready"}})
    async def readyz():
        """Readiness: models loaded and warmed up, the inference log's writer alive."""
        problems = []
        if settings.log is not None and not settings.log.thread.is_alive():
            problems.append("the inference-log writer has stopped")
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return {"status": "ready", "models": list(served)}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus() -> Response:
        """Prometheus exposition: requests, latency histogram, errors, records per model version, cache."""
        if settings.log is not None:
            metrics.log_failed.set(settings.log.failed)
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/health", tags=["operations"])
    async def health() -> dict:
        return {"status": "ok", "model_version": live.version}

    @app.get("/v1/model", tags=["models"])
    async def model_info(caller: tuple = authorized(settings, "predict")) -> dict:
        return {k: live.info.get(k) for k in ("task", "model_version", "model_type", "threshold")} | {
            "inputs": list(live.inputs)}

    @app.get("/v1/models", tags=["models"])
    async def models(caller: tuple = authorized(settings, "predict")) -> dict:
        """The versions served, their role and share of traffic, and how each is scored."""
        share = settings.canary_share if candidate is not None and not settings.shadow else 0.0
        rows = [{"model_version": live.version, "role": "live", "traffic_share": 1.0 - share}]
        if candidate is not None:
            rows.append({"model_version": candidate.version, "role": "shadow" if settings.shadow else "canary",
                         "traffic_share": share})
        for row in rows:
            m = served[row["model_version"]]
            row |= {"model_type": m.info["model_type"], "task": m.info.get("task"), "threshold": m.threshold,
                    "scorer": m.scorer, "inputs": len(m.inputs)}
        return {"models": rows}

    @app.post("/v1/predict", response_model=PredictResponse, response_model_exclude_none=True, tags=["scoring"],
              responses={401: {"description": "no or unknown key"}, 403: {"description": "scope not granted"},
                         404: {"description": "an id has no online features"}, 413: {"description": "body too large"},
                         429: {"description": "rate limit reached"}})
    async def predict(req: PredictRequest, caller: tuple = authorized(settings, "predict", replayable=True)):
        n = len(req.records or req.ids or [])
        body, shadow = await run_in_threadpool(answer, req, caller) if n > INLINE_RECORDS else answer(req, caller)
        return json_response(body, background=shadow)

    @app.post("/v1/explain", response_model=ExplainResponse, tags=["scoring"],
              responses={401: {"description": "no or unknown key"}, 403: {"description": "scope not granted"},
                         404: {"description": "the id has no online features"},
                         501: {"description": "the served model cannot be explained here"}})
    def explain(req: ExplainRequest, caller: tuple = authorized(settings, "explain", replayable=True)):
        """The inputs that moved one record's score most, with their SHAP contributions, in words."""
        if (req.record is None) == (req.id is None):
            raise HTTPException(422, detail=[{"loc": ["body"], "type": "value_error",
                                              "msg": "give exactly one of record or id"}])
        holder = PredictRequest(records=[req.record] if req.record is not None else None,
                                ids=[req.id] if req.id is not None else None)
        records, ids = records_for(holder)
        if live.segmenter:
            raise HTTPException(501, "segment assignments are explained by the segment profiles in the train report")
        try:
            why = live.explain(records[0], req.top)
        except LookupError as e:
            raise HTTPException(501, str(e)) from None
        body, _ = answer(holder, caller)
        p = body["predictions"][0]
        return json_response({"request_id": body["request_id"], "model_version": p["model_version"],
                              "score": p["score"], "flagged": p["flagged"], **why})

    return app


def typical_record(inputs: dict[str, dict]) -> dict:
    """A plausible record (mid-range numbers, the first category seen) for warm-up calls."""
    rec = {}
    for name, spec in inputs.items():
        if spec["type"] == "number":
            lo, hi = spec.get("range", [spec.get("minimum", 0), spec.get("minimum", 0) + 1])
            rec[name] = (lo + hi) / 2
        else:
            rec[name] = (spec.get("categories") or ["missing"])[0]
    return rec
