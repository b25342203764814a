"""What happened after a cutoff: the targets of the behaviour models.

An *event kind* is what we predict: ``purchase`` (any purchase event) or ``click`` (any view or
click event) within ``horizon_days`` after the cutoff. Churn is not a separate model: churn
within H days is "no purchase within H days", so P(churn) = 1 - P(purchase, H); the tool
reports it that way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import duckdb
import pandas as pd

EventKind = Literal["purchase", "click"]
EVENT_TYPES: dict[str, tuple[str, ...]] = {"purchase": ("purchase",), "click": ("view", "click")}


def labels_after(con: duckdb.DuckDBPyConnection, cutoff: datetime, horizon_days: int,
                 users: Sequence[str], kind: EventKind = "purchase") -> pd.Series:
    """1.0 for each user with an event of `kind` in [cutoff, cutoff + horizon), else 0.0."""
    start = pd.Timestamp(cutoff).to_pydatetime()
    hits = con.execute(
        "SELECT DISTINCT user_id FROM events WHERE ts >= $start AND ts < $end "
        "AND event_type IN (SELECT unnest($types))",
        {"start": start, "end": start + timedelta(days=horizon_days),
         "types": list(EVENT_TYPES[kind])},
    ).fetchall()
    positive = {r[0] for r in hits}
    return pd.Series([float(u in positive) for u in users], index=pd.Index(users, name="user_id"),
                     name="label")


def labels_complete(con: duckdb.DuckDBPyConnection, cutoff: datetime, horizon_days: int) -> bool:
    """Whether the data covers the whole label window (otherwise labels would be too low)."""
    last = con.execute("SELECT max(ts) FROM events").fetchone()[0]
    return last is not None and pd.Timestamp(last) >= pd.Timestamp(cutoff) + pd.Timedelta(
        days=horizon_days) - pd.Timedelta(days=1)
