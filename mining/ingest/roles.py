"""Data access by role (curriculum 2.7): who may read which protected table through mining's readers.

The role is `$MINING_ROLE` (else `govern.roles.default`, the pipeline's own). A role reads a table
only when `govern.roles.grants` lists it; a table still holding raw identifiers (the id column is
not in `ingest.pseudonymise.columns`) needs `raw_identifiers` as well, so an analyst reads the
pseudonymised tables only. Every read, granted or refused, is appended to the access log (who,
role, table, when). This guards the project's own readers; on a shared machine, file permissions
and the encryption at rest (`ingest.encryption`) guard the files themselves.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timezone

from mining.catalog import Catalog
from mining.params import Params

RAW = "raw_identifiers"
HOLDS_IDS = ("entities", "events", "quarantine")


class RoleRefused(PermissionError):
    """The current role may not read the table: which role, which table, and who may."""


def current_role(params: Params) -> str:
    return os.environ.get("MINING_ROLE") or params["govern"]["roles"]["default"]


def authorize(params: Params, table: str) -> str:
    """The role, once allowed to read catalog table `table`; RoleRefused otherwise. Logged either way."""
    grants = params["govern"]["roles"]["grants"]
    role = current_role(params)
    allowed = grants.get(role)
    raw = params["data"]["id_column"] and params["data"]["id_column"] not in params["ingest"]["pseudonymise"]["columns"]
    if allowed is None:
        reason = f"role {role!r} is not defined (params/govern.yaml roles.grants: {sorted(grants)})"
    elif table not in allowed:
        reason = (f"role {role!r} may not read {table} (roles.grants.{role}: {allowed}); roles that may: "
                  f"{sorted(r for r, g in grants.items() if table in g)}")
    elif table in HOLDS_IDS and raw and RAW not in allowed:
        reason = (f"{table} holds raw {params['data']['id_column']} values (ingest.pseudonymise.columns does not list it) "
                  f"and role {role!r} may read pseudonymised tables only; roles that may: "
                  f"{sorted(r for r, g in grants.items() if table in g and RAW in g)}")
    else:
        reason = None
    log(params, role, table, reason is None)
    if reason:
        raise RoleRefused(f"{reason}. Set $MINING_ROLE to a role that may, or ask for the grant; the refusal is "
                          "logged")
    return role


def log(params: Params, role: str, table: str, granted: bool) -> None:
    """One line per read: who (the OS user), role, table, when, granted."""
    path = Catalog(params.root)["access_log"]
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "user": getpass.getuser(), "role": role,
            "table": table, "granted": granted}
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")
