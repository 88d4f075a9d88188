"""`mining serve` (what `make serve` runs): the API under uvicorn, configured by params/deploy.yaml.

One worker process per core by default (`deploy.workers`), each loading the bundle itself; HTTPS
only when `deploy.tls_cert`/`tls_key` are given. It refuses to start without an API key unless
`deploy.auth: false` says so (and then logs that it answers anyone).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from mining.catalog import Catalog
from mining.deploy import releases
from mining.deploy.api import Settings, create_app
from mining.deploy.cache import PredictionCache
from mining.deploy.inference_log import InferenceLog, pseudonymiser
from mining.deploy.keys import KeyStore
from mining.deploy.registry import CHAMPION
from mining.deploy.ratelimit import RateLimit
from mining.features.online import online_store
from mining.params import Params, load_params, project_root

_log = logging.getLogger("uvicorn.error")
OVERRIDES_ENV = "MINING_SERVE_OVERRIDES"


class NoKey(RuntimeError):
    """Authentication is on and no key exists: nobody could call the API."""


def key_store(params: Params) -> KeyStore:
    """The project's key store: `deploy.keys_url`, else the catalog's SQLite file."""
    return KeyStore(params["deploy"]["keys_url"] or f"sqlite:///{Catalog(params.root)['api_keys']}")


def log_url(params: Params) -> str:
    return params["deploy"]["log_url"] or f"sqlite:///{Catalog(params.root)['inference_log']}"


def keys_for(params: Params) -> KeyStore | None:
    """The key store, or None when `deploy.auth` is false (said in the log); NoKey when auth is on
    and nobody could call the API."""
    if not params["deploy"]["auth"]:
        _log.warning("deploy.auth is false: the API answers anyone, without a key")
        return None
    keys = key_store(params)
    if not keys.apps():
        raise NoKey("no API key yet: create one with `mining keys add APP --scopes predict` "
                    "(or set deploy.auth: false in params/deploy.yaml to serve without keys)")
    return keys


def settings_from(params: Params) -> Settings:
    """The API's keys, limits, cache, log and online store as params/deploy.yaml sets them."""
    d = params["deploy"]
    keys = keys_for(params)
    cat = Catalog(params.root)
    return Settings(
        keys=keys, keys_cache_s=d["keys_cache_s"], limit=RateLimit(d["rate_limit_per_minute"], d["redis_url"]),
        cache=PredictionCache(d["cache_ttl_s"], d["cache_size"], d["redis_url"]) if d["cache_ttl_s"] else None,
        log=InferenceLog(log_url(params)), pseudonym=pseudonymiser(d["pseudonym_key_env"], cat["pseudonym_key"]),
        online=online_store(params), unseen_categories=d["unseen_categories"], max_body_bytes=d["max_body_bytes"],
        max_records=d["max_records"], canary_share=d["canary_share"], shadow=d["shadow"])


def app_from_env() -> FastAPI:
    """uvicorn factory (one call per worker): the bundle from $MINING_BUNDLE or the registry's version
    `deploy.serves` (an alias or a number; fetched and checked against its registered sha256; before
    any release the pipeline's bundle), with `deploy.candidate` or else, beside the champion, the
    challenger in shadow; params with the overrides `mining serve --set` passed on in $MINING_SERVE_OVERRIDES."""
    params = load_params(json.loads(os.environ.get(OVERRIDES_ENV, "{}")), root=project_root())
    serves = str(params["deploy"]["serves"])
    bundle = os.environ.get("MINING_BUNDLE") or str(releases.served_dir(params.root, serves))
    settings = settings_from(params)
    candidate = params.path(params["deploy"]["candidate"]) if params["deploy"]["candidate"] else None
    if candidate is None and "MINING_BUNDLE" not in os.environ and serves == CHAMPION:
        candidate = releases.challenger_dir(params.root)
        settings.shadow = settings.shadow or candidate is not None  # a challenger is only ever shadowed
    return create_app(bundle, settings=settings, candidate_dir=candidate)


@contextmanager
def running(app: FastAPI, host: str = "127.0.0.1", timeout_s: float = 30) -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free loopback port; yields its base URL, and on exit
    stops it (its lifespan drains the inference log)."""
    sock = tcp_socket(host, 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="loopback-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the loopback API did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def serve(overrides: dict) -> None:
    """Run uvicorn in the foreground with the workers and TLS of params/deploy.yaml (and overrides)."""
    params = load_params(overrides, root=project_root())
    os.environ[OVERRIDES_ENV] = json.dumps(overrides)
    d = params["deploy"]
    keys_for(params)  # fail here, once, rather than in every worker
    releases.served_dir(params.root, str(d["serves"]))  # fetched and hash-checked once, before the workers
    workers = d["workers"] or os.cpu_count() or 1
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mining-metrics-")
    tls = {"ssl_certfile": str(params.path(d["tls_cert"])), "ssl_keyfile": str(params.path(d["tls_key"]))} \
        if d["tls_cert"] else {}
    for f in tls.values():
        if not Path(f).is_file():
            raise FileNotFoundError(f"{f}: TLS file named in params/deploy.yaml not found")
    config = uvicorn.Config("mining.deploy.server:app_from_env", factory=True, host=d["host"], port=d["port"],
                            workers=workers, log_level="warning", access_log=False, **tls)
    if workers == 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[tcp_socket(d["host"], d["port"])]).run()


def tcp_socket(host: str, port: int) -> socket.socket:
    """The listening socket the workers share, made with its protocol named: asyncio sets TCP_NODELAY
    only on sockets whose proto is IPPROTO_TCP, and uvicorn's own (proto 0) leaves Nagle's algorithm
    on, which with delayed ACKs costs 40 ms per keep-alive request."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


