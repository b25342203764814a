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


def _items(rows: pd.DataFrame) -> pd.Series:
    """"12 x red mug at 4.5" for purchases, "red mug (3 times)" for other actions."""
    times = rows["n"].map(lambda n: "" if n == 1 else f" ({n} times)")
    price = rows["price"].map(lambda p: f" at {number(p)}" if pd.notna(p) else "")
    bought = rows["qty"].map(number) + " x " + rows["title"] + price
    return bought.where(rows["event_type"] == "purchase", rows["title"] + times)


def _when(day: int, date) -> str:
    ago = "today" if day == 0 else "1 day ago" if day == 1 else f"{day} days ago"
    return f"{ago} ({date:%Y-%m-%d})"


def _summary(features: pd.Series) -> str:
    parts = [f"customer for {int(features['tenure_days'])} days",
             f"{number(features['frequency'])} orders",
             f"spent {number(features['monetary'])} in total"]
    if pd.notna(features["recency_days"]):
        parts.append(f"last order {int(features['recency_days'])} days ago")
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
    rows["item"] = _items(rows)
    clauses = rows.groupby(["user_id", "day", "event_type"], sort=True).agg(
        date=("date", "first"), items=("item", "; ".join)).reset_index()
    clauses["text"] = [f"{_when(day, date)} {VERBS.get(kind, kind)}: {items}."
                       for day, date, kind, items in clauses[["day", "date", "event_type", "items"]]
                       .itertuples(index=False)]
    texts = clauses.groupby("user_id", sort=True)["text"].agg(" ".join)
    if features is not None:
        heads = pd.Series({u: _summary(features.loc[u]) for u in texts.index}, dtype=object)
        texts = heads + texts
    return texts.str.slice(0, max_chars).rename("text").rename_axis("user_id")
