"""Which columns hold personal data, and how we know: declared in params, or detected.

A column is personal when params/govern.yaml `personal_data` declares it, when it is a sensitive
feature of the charter, or when its name or values give it away: e-mail addresses and phone
numbers by pattern, dates of birth and ages, locations, financial figures, special-category
attributes (health, ethnicity, religion, sex) and identifiers by name, free text by length and
cardinality. Each finding says how it was found, so the record can be checked.
"""

from __future__ import annotations

import re

import pandas as pd
from pandas.api import types as ptypes

NAMES: list[tuple[str, re.Pattern]] = [  # (category, column-name pattern), most specific first
    ("special category (GDPR art. 9)", re.compile(r"(gender|sex|female|male|race|ethnic|religio|health|disab|"
                                                  r"pregnan|sexual|union|biometric|genetic)", re.I)),
    ("date of birth", re.compile(r"(birth|dob\b|date_of_birth)", re.I)),
    ("age", re.compile(r"(^|_)age(_|$)|senior", re.I)),
    ("contact: e-mail", re.compile(r"e_?mail", re.I)),
    ("contact: phone", re.compile(r"^(phone|mobile|telephone|msisdn)$|(phone|mobile|tel(ephone)?)_?(no|nr|num|number)$",
                                  re.I)),
    ("location", re.compile(r"(zip|postcode|postal|address|street|city|latitude|longitude|geo|ip_?addr)", re.I)),
    ("financial", re.compile(r"(income|salary|credit|balance|debt|loan|iban|account_?number|card_?number|wage)", re.I)),
    ("name", re.compile(r"(^|_)(first|last|full|sur|given)?_?name$", re.I)),
    ("identifier", re.compile(r"((^|_)id$|_id$|customer|client|user_?id|ssn|passport|national_?id|rownames)", re.I)),
]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}|^\d{1,2}[/.]\d{1,2}[/.]\d{2,4}$")
SHARE = 0.8  # share of sampled values that must match a pattern


def _by_values(s: pd.Series) -> tuple[str, str] | None:
    """(category, how) when the values themselves look personal."""
    if ptypes.is_numeric_dtype(s) or ptypes.is_bool_dtype(s):
        return None
    text = s.dropna().astype(str)
    if text.empty:
        return None
    sample = text.sample(min(len(text), 500), random_state=0)
    for category, pattern in (("contact: e-mail", EMAIL), ("contact: phone", PHONE)):
        share = sample.str.match(pattern).mean()
        if category == "contact: phone" and (sample.str.match(DATE).mean() > 0.5 or sample.str.fullmatch(r"\d{1,6}").mean() > 0.5):
            continue  # dates and short codes are not phone numbers
        if share >= SHARE:
            return category, f"detected: {share:.0%} of sampled values look like {category.split(': ')[1]}s"
    length, distinct = sample.str.len().mean(), text.nunique() / len(text)
    if length >= 30 and distinct >= 0.5:
        return "free text", f"detected: free text (mean {length:.0f} characters, {distinct:.0%} distinct)"
    return None


def detect(frame: pd.DataFrame, declared: dict[str, dict], sensitive: list[str]) -> pd.DataFrame:
    """One row per personal column of `frame` (plus declared ones it lacks): field, category,
    how_found, declared, purpose."""
    rows = []
    for col in frame.columns:
        if col.startswith("_"):
            continue  # ingest's own bookkeeping (_schema_version, ...)
        d = declared.get(col)
        if d:
            rows.append({"field": col, "category": d["category"], "how_found": "declared in params/govern.yaml",
                         "declared": True, "purpose": d["purpose"]})
            continue
        found = _by_values(frame[col])
        if found is None:
            hit = next(((c, p) for c, p in NAMES if p.search(col)), None)
            found = (hit[0], f"detected: the column name matches {hit[1].pattern!r}") if hit else None
        if found is None and col in sensitive:
            found = ("sensitive attribute", "the charter's sensitive_features")
        if found:
            rows.append({"field": col, "category": found[0], "how_found": found[1], "declared": False,
                         "purpose": ""})
    for col, d in declared.items():
        if col not in frame.columns:
            rows.append({"field": col, "category": d["category"], "how_found": "declared; not in this dataset",
                         "declared": True, "purpose": d["purpose"]})
    return pd.DataFrame(rows, columns=["field", "category", "how_found", "declared", "purpose"])
