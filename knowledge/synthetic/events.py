"""Clock times inside sessions and the events table (view, click, fav, cart, purchase)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from knowledge.synthetic.behaviour import Activity
from knowledge.synthetic.catalogue import Catalogue
from knowledge.synthetic.timeline import Timeline


@dataclass
class Clock:
    """Timestamps of every step: per view (view, click, fav, cart) and per session (checkout)."""

    view: np.ndarray
    click: np.ndarray
    fav: np.ndarray
    cart: np.ndarray
    checkout: np.ndarray  # per session, after its last view


def clock(activity: Activity, timeline: Timeline, rng: np.random.Generator) -> Clock:
    sessions, views = activity.sessions, activity.views
    row = sessions.index.get_indexer(views["session"].to_numpy())
    gaps = rng.exponential(45.0, size=len(views)) + 3
    elapsed = pd.Series(gaps).groupby(row).cumsum().to_numpy() - gaps  # first view at 0s
    start = timeline.at(sessions["day"].to_numpy(), sessions["second"].to_numpy())
    to_us = 1e6
    view = start[row] + (elapsed * to_us).astype("timedelta64[us]")
    click = view + ((2 + rng.exponential(8.0, len(views))) * to_us).astype("timedelta64[us]")
    fav = click + ((1 + rng.exponential(5.0, len(views))) * to_us).astype("timedelta64[us]")
    cart = click + ((3 + rng.exponential(20.0, len(views))) * to_us).astype("timedelta64[us]")
    last = np.full(len(sessions), np.datetime64("NaT", "us"))
    if len(views):
        last_cart = pd.Series(cart).groupby(row).max()
        last[last_cart.index.to_numpy()] = last_cart.to_numpy()
    checkout = last + ((60 + rng.exponential(90.0, len(sessions))) * to_us).astype("timedelta64[us]")
    # a session late on the last evening ends with the history, not after it
    latest = np.datetime64(timeline.end, "us") - np.timedelta64(1, "s")
    return Clock(*(np.minimum(t, latest) for t in (view, click, fav, cart, checkout)))


def events_table(activity: Activity, catalogue: Catalogue, users: pd.DataFrame, lines: pd.DataFrame,
                 times: Clock) -> pd.DataFrame:
    """One row per step. `lines` are the purchased order lines (see orders.purchase_lines)."""
    sessions, views = activity.sessions, activity.views
    user_ids = users["user_id"].to_numpy()
    product_ids = catalogue.products["product_id"].to_numpy()
    categories = catalogue.products["category"].to_numpy()
    session_ids = np.char.add("S", np.char.zfill(sessions.index.to_numpy().astype(str), 8))
    row = sessions.index.get_indexer(views["session"].to_numpy())
    product = views["product"].to_numpy()
    frames = []
    for kind, mask, ts in (("view", np.ones(len(views), bool), times.view),
                           ("click", views["clicked"].to_numpy(), times.click),
                           ("fav", views["faved"].to_numpy(), times.fav),
                           ("cart", views["carted"].to_numpy(), times.cart)):
        frames.append(pd.DataFrame({
            "user_id": user_ids[sessions["user"].to_numpy()[row[mask]]],
            "product_id": product_ids[product[mask]], "category": categories[product[mask]],
            "event_type": kind, "ts": ts[mask], "session_id": session_ids[row[mask]],
        }))
    line_row = sessions.index.get_indexer(lines["session"].to_numpy())
    frames.append(pd.DataFrame({
        "user_id": user_ids[sessions["user"].to_numpy()[line_row]],
        "product_id": product_ids[lines["product"].to_numpy()],
        "category": categories[lines["product"].to_numpy()],
        "event_type": "purchase", "ts": times.checkout[line_row],
        "session_id": session_ids[line_row],
        "quantity": lines["quantity"].to_numpy(), "price": lines["unit_price"].to_numpy(),
    }))
    events = pd.concat(frames, ignore_index=True)
    events["quantity"] = events["quantity"].astype("Int32")
    return events.sort_values(["ts", "session_id"], kind="stable", ignore_index=True)

