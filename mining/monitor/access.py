"""Access audit (curriculum 8.2): who asked for which decisions, for what purpose, and what looks wrong.

Read from the API's inference/access log (one row per scored record: the key's app, the
`X-Purpose` header, the pseudonymised id). Per app and day: decisions answered and distinct
customers looked up. Flagged: a day on which an app looked up far more customers than it usually
does (more than `spike` times its median day, and at least `min_ids`), a purpose the app is not
allowed (`govern.access.purposes`), and requests with no purpose at all.
"""

from __future__ import annotations

import pandas as pd


def daily_access(log: pd.DataFrame) -> pd.DataFrame:
    """app, purpose, day -> decisions, distinct ids (shadow scoring is the system's, not a caller's)."""
    live = log[log["route"] != "shadow"].assign(day=pd.to_datetime(log["at"], utc=True, format="ISO8601").dt.date,
                                                purpose=log["purpose"].fillna("(none given)"))
    return (live.groupby(["app", "purpose", "day"])
            .agg(decisions=("request_id", "size"), distinct_ids=("record_id", "nunique"))
            .reset_index().sort_values(["day", "app", "purpose"], ignore_index=True))


def unusual_access(daily: pd.DataFrame, allowed: dict[str, list[str]], *, spike: float, min_ids: int) -> pd.DataFrame:
    """One row per finding: app, day, kind (volume, purpose, no purpose) and what was seen."""
    rows = []
    per_day = daily.groupby(["app", "day"])["distinct_ids"].sum().reset_index()
    for app, days in per_day.groupby("app"):
        usual = days["distinct_ids"].median()
        for r in days.itertuples():
            if r.distinct_ids >= min_ids and r.distinct_ids > spike * usual:
                rows.append({"app": app, "day": r.day, "kind": "volume",
                             "detail": f"{r.distinct_ids:,} customers looked up, {r.distinct_ids / usual:.1f}x its "
                                       f"median day ({usual:,.0f})"})
    for r in daily.itertuples():
        if r.purpose == "(none given)":
            rows.append({"app": r.app, "day": r.day, "kind": "no purpose",
                         "detail": f"{r.decisions:,} decisions asked without an X-Purpose header"})
        elif r.app in allowed and r.purpose not in allowed[r.app]:
            rows.append({"app": r.app, "day": r.day, "kind": "purpose",
                         "detail": f"purpose {r.purpose!r} is not one of {allowed[r.app]}"})
    return pd.DataFrame(rows, columns=["app", "day", "kind", "detail"])
