"""The frozen `/v1` contract: a new model version may widen what `/v1` accepts, never narrow it.

Deploy builds the API over the staged bundle, takes its OpenAPI document and compares it with the
live bundle's: a request valid for the old document must stay valid (no input removed, none newly
required, no type changed, no enum narrowed, no new bound), and every response field must stay.
Inputs a later model adds are optional under `/v1` (the pipeline imputes them when left out). A
breaking change is refused: the live bundle keeps serving until a `/v2` is designed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from mining.catalog import Catalog, member
from mining.deploy.api import create_app
from mining.deploy.bundle import lineage_of, write_bundle
from mining.params import Params
from mining.reports import read_json, write_json

REQUEST, RESPONSE = "Record", "Prediction"


class BreakingChange(RuntimeError):
    """The staged bundle's API would refuse requests, or drop answers, that `/v1` promised."""


def _schema(doc: dict, name: str) -> dict:
    return doc.get("components", {}).get("schemas", {}).get(name, {"properties": {}, "required": []})


def _types(prop: dict) -> tuple[set, set | None]:
    """The JSON types a property accepts, and its enum (None: any value of those types)."""
    options = prop.get("anyOf", [prop])
    types = {o.get("type") for o in options if "type" in o}
    enums = [set(o["enum"]) for o in options if "enum" in o]
    return types, set().union(*enums) if enums else None


def breaking_changes(old: dict, new: dict) -> list[str]:
    """What `new` (an OpenAPI document) breaks of `old`'s promises, in words; [] when compatible."""
    problems = []
    before, after = _schema(old, REQUEST), _schema(new, REQUEST)
    for name, prop in before["properties"].items():
        if name not in after["properties"]:
            problems.append(f"input {name!r} removed: /v1 requests that send it would get 422")
            continue
        (t0, e0), (t1, e1) = _types(prop), _types(after["properties"][name])
        if not t0 <= t1:
            problems.append(f"input {name!r} no longer accepts {sorted(map(str, t0 - t1))}")
        if e1 is not None and (e0 is None or not e0 <= e1):
            problems.append(f"input {name!r} accepts fewer values: {sorted(map(str, (e0 or {'any'}) - e1))[:5]} gone")
        for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if after["properties"][name].get(bound) != prop.get(bound) and bound in after["properties"][name]:
                problems.append(f"input {name!r}: {bound} now {after['properties'][name][bound]}")
    for name in set(after.get("required", [])) - set(before.get("required", [])):
        problems.append(f"input {name!r} is now required: /v1 requests without it would get 422")
    gone = set(_schema(old, RESPONSE)["properties"]) - set(_schema(new, RESPONSE)["properties"])
    problems += [f"response field {name!r} removed" for name in sorted(gone)]
    return problems


def openapi_of(bundle_dir: Path) -> dict:
    """The OpenAPI document the API would publish over `bundle_dir`."""
    return TestClient(create_app(bundle_dir)).get("/openapi.json").json()


def held_contract(contract: Path, source: str) -> dict | None:
    """The /v1 document deployed so far for data `source`; None on a first deploy, or when the
    project now reads another source (a new dataset is a new API, not a new version of the old one)."""
    held = read_json(contract) if contract.exists() else None
    return held["openapi"] if held is not None and held.get("data_source") == source else None


def freeze(contract: Path, source: str):
    """A check for `write_bundle(accept=...)`: the staged bundle's OpenAPI document, written into it,
    must keep every promise of the contract deployed so far for `source`; BreakingChange otherwise."""
    def accept(staging: Path) -> None:
        doc = openapi_of(staging)
        held = held_contract(contract, source)
        if held is not None:
            problems = breaking_changes(held, doc)
            if problems:
                raise BreakingChange(f"the new model breaks the /v1 contract ({contract.name}): {'; '.join(problems)}. "
                                     "The live bundle keeps serving; a breaking change needs a /v2 path.")
        write_json(staging / member("openapi"), doc)
    return accept


def deploy(params: Params, definitions: dict, meta: dict, train: pd.DataFrame, check: pd.DataFrame) -> Path:
    """`write_bundle` under the frozen contract; once the bundle is live its document becomes the
    contract the next deploy from the same data source is held to."""
    cat, source = Catalog(params.root), params["data"]["source"]
    bundle = write_bundle(params.root, definitions, meta, train, check, accept=freeze(cat["api_contract"], source),
                          lineage=lineage_of(params.root, params.as_dict(), meta))
    write_json(cat["api_contract"], {"data_source": source, "openapi": read_json(bundle / member("openapi"))})
    return bundle
