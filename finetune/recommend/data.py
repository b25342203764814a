"""Events from the warehouse -> item catalogue + per-user histories that every model reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
from scipy import sparse

# How much one event says about interest in an item; purchases count most.
EVENT_WEIGHTS = {"view": 1.0, "click": 1.0, "fav": 2.0, "cart": 3.0, "purchase": 4.0}
DAY = 86400.0


@dataclass
class History:
    """One user's events, oldest first, as catalogue rows."""

    items: np.ndarray  # int64 item rows
    ts: np.ndarray  # float64 unix seconds
    weights: np.ndarray  # float32 event weights
    purchased: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.items)

    def recency_vector(self, n_items: int, half_life_days: float) -> np.ndarray:
        """sum of event weight * 2^(-age / half_life) per item, age from the last event."""
        out = np.zeros(n_items, dtype=np.float32)
        if len(self):
            decay = np.exp2(-(self.ts[-1] - self.ts) / (half_life_days * DAY))
            np.add.at(out, self.items, (self.weights * decay).astype(np.float32))
        return out


@dataclass
class TrainData:
    """The catalogue (item ids in row order) and the training histories of known users."""

    items: list[str]
    histories: dict[str, History]
    end: float  # unix seconds of the last training event
    texts: list[str] = field(default_factory=list)  # title (+ description) per item, if known

    @property
    def n_items(self) -> int:
        return len(self.items)

    def item_index(self) -> dict[str, int]:
        return {item: row for row, item in enumerate(self.items)}

    def matrix(self) -> sparse.csr_matrix:
        """users x items, summed event weights (rows in histories order)."""
        rows, cols, vals = [], [], []
        for row, hist in enumerate(self.histories.values()):
            rows.append(np.full(len(hist), row))
            cols.append(hist.items)
            vals.append(hist.weights)
        shape = (len(self.histories), self.n_items)
        if not rows:
            return sparse.csr_matrix(shape, dtype=np.float32)
        return sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=shape, dtype=np.float32,
        )


def load_events(con: duckdb.DuckDBPyConnection, start: datetime | None = None,
                end: datetime | None = None, user_id: str | None = None) -> pd.DataFrame:
    """Events in [start, end) as user_id, product_id, event_type, ts (unix seconds), sorted."""
    where, params = ["1=1"], []
    for clause, value in (("ts >= ?", start), ("ts < ?", end), ("user_id = ?", user_id)):
        if value is not None:
            where.append(clause)
            params.append(value)
    return con.execute(
        "SELECT user_id, product_id, event_type, epoch(ts)::DOUBLE AS ts FROM events "
        f"WHERE {' AND '.join(where)} ORDER BY user_id, ts", params,
    ).df()


def histories_from(events: pd.DataFrame, item_index: dict[str, int]) -> dict[str, History]:
    """Group events by user; events on items outside the catalogue are dropped."""
    rows = events["product_id"].map(item_index)
    known = events[rows.notna()].assign(row=rows[rows.notna()].astype(np.int64))
    weights = known["event_type"].map(EVENT_WEIGHTS).fillna(1.0).astype(np.float32)
    known = known.assign(weight=weights)
    out: dict[str, History] = {}
    for user, group in known.groupby("user_id", sort=False):
        items = group["row"].to_numpy()
        out[str(user)] = History(
            items=items, ts=group["ts"].to_numpy(np.float64), weights=group["weight"].to_numpy(),
            purchased=np.unique(items[group["event_type"].to_numpy() == "purchase"]),
        )
    return out


def item_texts(con: duckdb.DuckDBPyConnection, items: list[str]) -> list[str]:
    """'title. description' per item from the products table ('' where unknown)."""
    frame = con.execute("SELECT product_id, title, description FROM products").df()
    text = frame["title"].fillna("") + np.where(
        frame["description"].fillna("") != "", ". " + frame["description"].fillna(""), "")
    lookup = dict(zip(frame["product_id"].astype(str), text))
    return [lookup.get(item, "") for item in items]


def train_data(events: pd.DataFrame, items: list[str] | None = None,
               texts: list[str] | None = None) -> TrainData:
    """TrainData over ``items`` (default: every item in the events, in first-seen order)."""
    if items is None:
        items = list(dict.fromkeys(events["product_id"].astype(str)))
    index = {item: row for row, item in enumerate(items)}
    end = float(events["ts"].max()) if len(events) else 0.0
    return TrainData(items=items, histories=histories_from(events, index), end=end,
                     texts=texts or [])
