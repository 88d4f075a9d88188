"""Credentials kept out of every artefact: one redaction for URLs, text and records, and the rules
for where a secret may come from.

A password never lives in params: a URL names an environment variable (`${PGPASSWORD}`), which
is expanded only when connecting, and only for the variables in `EXPANDABLE` (database, object
store and broker credentials), never the project's own keys. Whatever is written (JSON artefacts,
reports, executed notebooks, the registry, MLflow tags) passes through `redact`: the password of a
URL, secret-looking query parameters and the values of secret-looking environment variables are
replaced by `***`.
"""

from __future__ import annotations

import os
import re
from typing import Any

MASK = "***"
ENV_REF = re.compile(r"\$\{(\w+)\}")
# variables a URL may name: database, object-store and broker credentials (never MINING_*_KEY)
EXPANDABLE = re.compile(r"^(PG\w*|MYSQL_\w+|MARIADB_\w+|MINING_DB_\w+|MINING_WAREHOUSE_\w+|AWS_\w+|AZURE_\w+"
                        r"|GOOGLE_\w+|GCS_\w+|KAFKA_\w+|MLFLOW_TRACKING_(USERNAME|PASSWORD|TOKEN))$")
SECRET_NAME = re.compile(r"pass(word)?|pwd|secret|token|key|signature|^sig$|credential|auth", re.IGNORECASE)  # query keys
# environment names: whole words only (PGPASSWORD, AWS_SECRET_ACCESS_KEY, MINING_ENCRYPTION_KEY,
# MLFLOW_TRACKING_TOKEN), not the shell's PWD or a *_KEYBOARD
SECRET_ENV = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|(^|_)(PASS|KEY|AUTH|CREDENTIALS?|SIG|SIGNATURE|APIKEY)(_|$)",
                        re.IGNORECASE)
# a scheme starts at the first letter of a run of scheme characters; matching only from a run's start
# keeps a report's base64 images linear (from every letter of them: 1.5 s for a 670 kB report)
URL = re.compile(r"(?<![a-z0-9+.-])(?P<lead>[0-9+.-]*)(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/\s@'\"<>]*@)?"
                 r"(?P<rest>[^\s'\"<>]*)", re.IGNORECASE)
QUERY_PAIR = re.compile(r"(?P<key>[\w.-]+)=(?P<value>[^&#\s'\"<>]*)")
MIN_SECRET = 6  # shorter environment values are too common to search for


class SecretError(ValueError):
    """A secret where it must not be: a literal password in params, a variable not allowed in a URL."""


def _userinfo(scheme: str, userinfo: str) -> str:
    """A URL's `user:password@` with the password masked; over HTTP a bare `token@` is masked whole."""
    user, sep, password = userinfo[:-1].partition(":")
    if not userinfo or ENV_REF.fullmatch(password or user):
        return userinfo
    if not sep:
        return f"{MASK}@" if scheme.lower().startswith("http") else userinfo
    return f"{user}:{MASK}@"


def _query(rest: str) -> str:
    if "?" not in rest:
        return rest
    path, _, query = rest.partition("?")
    return path + "?" + QUERY_PAIR.sub(
        lambda m: f"{m['key']}={MASK}" if SECRET_NAME.search(m["key"]) and not ENV_REF.fullmatch(m["value"])
        else m.group(0), query)


def _secret_values() -> list[str]:
    """Values of this process's environment variables whose names say they hold a secret."""
    return sorted({v for k, v in os.environ.items() if SECRET_ENV.search(k) and len(v) >= MIN_SECRET},
                  key=len, reverse=True)


def redact_text(text: str) -> str:
    """`text` with URL passwords, secret query parameters and secret environment values masked."""
    text = URL.sub(lambda m: m["lead"] + m["scheme"] + _userinfo(m["scheme"], m["userinfo"] or "") + _query(m["rest"]),
                   text)
    for value in _secret_values():
        text = text.replace(value, MASK)
    return text


def redact(obj: Any) -> Any:
    """A record (dicts, lists, strings) with every string passed through `redact_text`."""
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, dict):
        return {k: redact(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    return obj


def literal_password(url: str) -> bool:
    """True when a URL carries a password written out (not an `${ENV}` reference)."""
    m = URL.match(url)
    if m is None:
        return False
    userinfo, query = m["userinfo"] or "", m["rest"].partition("?")[2]
    if _userinfo(m["scheme"], userinfo) != userinfo:
        return True
    return any(SECRET_NAME.search(p["key"]) and p["value"] and not ENV_REF.fullmatch(p["value"])
               for p in QUERY_PAIR.finditer(query))


def expand_env(url: str) -> str:
    """`${VAR}` from the environment, for allowed credential variables only; a missing or
    disallowed one is named, never silently left empty or sent to another host."""
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if not EXPANDABLE.match(name):
            raise SecretError(f"a URL may not name ${{{name}}}: only database, object-store and broker "
                              f"credentials ({EXPANDABLE.pattern}) are expanded")
        if name not in os.environ:
            raise SecretError(f"the URL needs ${{{name}}} but it is not set in the environment")
        return os.environ[name]
    return ENV_REF.sub(sub, url)
