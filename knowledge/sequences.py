"""Each user's history before a cutoff written as text, for the encoder classifiers.

Recent first, so that a tokenizer truncating at ``max_length`` drops the oldest events, not the
newest. One clause per day and action: ``3 days ago (2011-11-06) bought: 12 x white hanging
heart t-light holder at 2.55; ...``. Numbers are plain decimals ("2.55", "12") that a WordPiece
tokenizer keeps as digits; relative days spare the model date arithmetic. An optional summary
line (tenure, orders, spend, last order) puts the RFM numbers where truncation cannot drop them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pandas as pd

VERBS = {"purchase": "bought", "view": "viewed", "click": "clicked", "cart": "added to cart",
         "fav": "saved"}

_SQL = """
WITH ev AS (
    SELECT e.user_id, e.event_type, e.ts, e.product_id, e.category,
           coalesce(e.quantity, 1) AS qty, e.price,
           floor(date_diff('second', e.ts, $cutoff::TIMESTAMP) / 86400.0)::INTEGER AS day,
           coalesce(lower(p.title), 'item ' || e.product_id ||
                    coalesce(' in category ' || e.category, '')) AS title
    FROM events e LEFT JOIN products p USING (product_id)
    WHERE e.ts < $cutoff::TIMESTAMP {user_filter}
),
lines AS (
    SELECT user_id, day, min(ts)::DATE AS date, event_type, title, sum(qty) AS qty,
           avg(price) AS price, count(*) AS n
    FROM ev GROUP BY user_id, day, event_type, title
)
SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY day, event_type, qty DESC, title)
              AS rank
    FROM lines)
WHERE rank <= $max_lines ORDER BY user_id, rank
"""


def number(x: float) -> str:
    """2.5 -> "2.5", 3.0 -> "3", 1234.567 -> "1234.57": digits the tokenizer keeps."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _item(row) -> str:
    if row.event_type == "purchase":
        price = f" at {number(row.price)}" if pd.notna(row.price) else ""
        return f"{number(row.qty)} x {row.title}{price}"
    return row.title if row.n == 1 else f"{row.title} ({row.n} times)"


def _when(day: int, date) -> str:
    ago = "today" if day == 0 else "1 day ago" if day == 1 else f"{day} days ago"
    return f"{ago} ({date:%Y-%m-%d})"


def _summary(features: pd.Series) -> str:
    parts = [f"customer for {number(features['tenure_days'])} days",
             f"{number(features['frequency'])} orders",
             f"spent {number(features['monetary'])} in total"]
    if pd.notna(features["recency_days"]):
        parts.append(f"last order {number(features['recency_days'])} days ago")
    return ", ".join(parts) + ". "


def history_texts(
    con: duckdb.DuckDBPyConnection,
    cutoff: datetime,
    users: Sequence[str] | None = None,
    features: pd.DataFrame | None = None,
    max_lines: int = 300,
    max_chars: int = 4000,
) -> pd.Series:
    """Text per user (index user_id) of the events before `cutoff`, most recent first.

    `features` (from `knowledge.features.build_features` at the same cutoff) adds the summary
    line. `max_lines`/`max_chars` bound the work; the tokenizer truncates further.
    """
    params: dict = {"cutoff": pd.Timestamp(cutoff).to_pydatetime(), "max_lines": max_lines}
    user_filter = ""
    if users is not None:
        params["users"] = [str(u) for u in users]
        user_filter = "AND e.user_id IN (SELECT unnest($users))"
    rows = con.execute(_SQL.format(user_filter=user_filter), params).df()
    texts: dict[str, str] = {}
    for user_id, group in rows.groupby("user_id", sort=False):
        clauses = []
        for (day, event_type), items in group.groupby(["day", "event_type"], sort=False):
            verb = VERBS.get(event_type, event_type)
            clause = f"{_when(day, items['date'].iloc[0])} {verb}: "
            clauses.append(clause + "; ".join(_item(r) for r in items.itertuples()) + ".")
        head = _summary(features.loc[user_id]) if features is not None else ""
        texts[str(user_id)] = (head + " ".join(clauses))[:max_chars]
    return pd.Series(texts, name="text", dtype=object).rename_axis("user_id")
