"""(user, item) and (user, category) pairs at a cutoff, for next-day tasks on click logs.

Click-to-buy: of the items a user viewed, carted or saved in the `lookback_days` before the
cutoff, which do they buy within `horizon_days` after it. Category click: of the categories
a user touched in the lookback, which do they view again. Features come from events before the
cutoff only; labels from the window after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import duckdb
import pandas as pd

PairKey = Literal["product_id", "category"]

_SQL = """
WITH ev AS (
    SELECT user_id, {key} AS key, event_type,
           date_diff('second', ts, $cutoff::TIMESTAMP) / 3600.0 AS hours
    FROM events WHERE ts < $cutoff::TIMESTAMP AND ts >= $start::TIMESTAMP AND {key} IS NOT NULL
),
pair AS (
    SELECT user_id, key, count(*) AS pair_events,
           count(*) FILTER (WHERE event_type IN ('view', 'click')) AS pair_views,
           count(*) FILTER (WHERE event_type IN ('view', 'click') AND hours < 24) AS pair_views_1d,
           count(*) FILTER (WHERE event_type = 'cart') AS pair_carts,
           count(*) FILTER (WHERE event_type = 'fav') AS pair_favs,
           count(*) FILTER (WHERE event_type = 'purchase') AS pair_buys,
           min(hours) AS pair_hours_since_last, max(hours) AS pair_hours_since_first,
           min(hours) FILTER (WHERE event_type = 'cart') AS pair_hours_since_cart
    FROM ev GROUP BY user_id, key
),
keys AS (
    SELECT key, count(DISTINCT user_id) AS key_users,
           count(*) FILTER (WHERE event_type = 'purchase') /
               (count(*) FILTER (WHERE event_type IN ('view', 'click')) + 1.0) AS key_buy_rate
    FROM ev GROUP BY key
),
users AS (
    SELECT user_id, count(*) AS user_events, count(DISTINCT key) AS user_keys,
           count(*) FILTER (WHERE event_type = 'purchase') AS user_buys,
           count(*) FILTER (WHERE event_type = 'cart') AS user_carts,
           count(*) FILTER (WHERE hours < 24) AS user_events_1d
    FROM ev GROUP BY user_id
)
SELECT * FROM pair JOIN keys USING (key) JOIN users USING (user_id)
WHERE pair_views + pair_carts + pair_favs > 0
ORDER BY user_id, key
"""

LABEL_TYPES = {"product_id": ("purchase",), "category": ("view", "click")}


def pair_frame(con: duckdb.DuckDBPyConnection, cutoff: datetime, key: PairKey,
               lookback_days: int = 3, horizon_days: int = 1) -> pd.DataFrame:
    """Features (numeric columns) and `label` per (user_id, key) pair, indexed by both."""
    start = pd.Timestamp(cutoff).to_pydatetime()
    frame = con.execute(_SQL.format(key=key), {
        "cutoff": start, "start": start - timedelta(days=lookback_days)}).df()
    hits = con.execute(
        f"SELECT DISTINCT user_id, {key} AS key FROM events WHERE ts >= $a AND ts < $b "
        f"AND event_type IN (SELECT unnest($types))",
        {"a": start, "b": start + timedelta(days=horizon_days), "types": list(LABEL_TYPES[key])},
    ).df()
    hits["label"] = 1.0
    frame = frame.merge(hits, on=["user_id", "key"], how="left").fillna({"label": 0.0})
    frame["pair_carted"] = (frame["pair_carts"] > 0).astype(float)
    return frame.set_index(["user_id", "key"]).astype(float)
