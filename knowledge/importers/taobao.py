"""Taobao UserBehavior (Tianchi 649), head of the file: page views, carts, favourites, buys.

pv -> view, cart -> cart, fav -> fav, buy -> purchase. Timestamps are Unix seconds; they are
stored as China Standard Time (UTC+8, no daylight saving), the shop's local time, like the
local UK time of Online Retail: in that zone the data fill the documented window 2017-11-25 to
2017-12-03 to the last second (the last event is 2017-12-03 23:59:23), while read as UTC 1,390
events would seem to fall outside it (the figure SOURCE.md gives). The few events outside the
window in local time are clock outliers of the original data (the earliest is 2017-09-11):
they are dropped from events and counted; their users and items still enter users and
products. A session is a user's run of events
with no gap longer than 30 minutes. There is no item text and no price: a product's title
names its id and category.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from knowledge.importers.base import (
    ImportReport,
    most_common,
    numbers,
    one_of,
    read_csv,
    replace_table,
)
from knowledge.settings import Settings

FILE = "userbehavior_head.csv.gz"
COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
EVENT_TYPES = {"pv": "view", "cart": "cart", "fav": "fav", "buy": "purchase"}
UTC_OFFSET = pd.Timedelta(hours=8)  # China Standard Time
WINDOW = (pd.Timestamp("2017-11-25"), pd.Timestamp("2017-12-04"))  # [start, end), local time
SESSION_GAP = pd.Timedelta(minutes=30)


def _read_events(path: Path) -> pd.DataFrame:
    raw = read_csv(path, COLUMNS, dtype={"behavior_type": str}, keep_default_na=False,
                   na_values=[""])
    ids = {c: numbers(path, raw, c, integer=True).astype(str)
           for c in ("user_id", "item_id", "category_id")}
    return pd.DataFrame({
        "user_id": ids["user_id"], "product_id": ids["item_id"], "category": ids["category_id"],
        "event_type": one_of(path, raw, "behavior_type", list(EVENT_TYPES)).map(EVENT_TYPES),
        "ts": pd.to_datetime(numbers(path, raw, "timestamp", integer=True), unit="s") + UTC_OFFSET,
    })


def sessionize(events: pd.DataFrame, gap: pd.Timedelta = SESSION_GAP) -> pd.Series:
    """Session ids "<user>-<n>": a new session starts after `gap` without an event."""
    ordered = events.sort_values(["user_id", "ts"], kind="stable")
    new_user = ordered["user_id"] != ordered["user_id"].shift()
    new_session = new_user | (ordered["ts"].diff() > gap)
    number = new_session.astype(int).groupby(ordered["user_id"]).cumsum()
    return (ordered["user_id"] + "-" + number.astype(str)).reindex(events.index)


def _products(events: pd.DataFrame) -> pd.DataFrame:
    """One row per item; an item seen under several categories takes its most frequent one."""
    products = most_common(events, "product_id", "category").reset_index()
    return products.assign(title="item " + products["product_id"]
                           + " (category " + products["category"] + ")")


def run(con: duckdb.DuckDBPyConnection, source_dir: Path, settings: Settings) -> ImportReport:
    events = _read_events(Path(source_dir) / FILE)
    report = ImportReport(source="taobao", raw={
        "events": len(events), "users": events["user_id"].nunique(),
        "items": events["product_id"].nunique(), "categories": events["category"].nunique()})
    report.raw.update({f"events_{t}": int((events["event_type"] == e).sum())
                       for t, e in EVENT_TYPES.items()})
    products = _products(events)
    several = events.groupby("product_id")["category"].nunique().gt(1).sum()
    if several:
        report.notes.append(f"{several} item(s) appear under more than one category; products "
                            "take the most frequent, events keep their own")
    utc = events["ts"] - UTC_OFFSET
    report.raw["events_outside_window_read_as_utc"] = int(
        ((utc < WINDOW[0]) | (utc >= WINDOW[1])).sum())
    outside = (events["ts"] < WINDOW[0]) | (events["ts"] >= WINDOW[1])
    report.dropped["timestamp outside 2017-11-25..2017-12-03 China time (dropped)"] = int(
        outside.sum())
    kept = events[~outside].copy()
    kept["session_id"] = sessionize(kept)
    users = pd.DataFrame({"user_id": events["user_id"].unique()})
    for table, frame in [("users", users), ("products", products), ("events", kept)]:
        report.rows[table] = replace_table(con, table, frame)
    report.notes.append("no item text or prices in the source: titles name the item and its "
                        "category, prices are NULL")
    return report
