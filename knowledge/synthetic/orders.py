"""Orders in the tau-bench shape: one order per purchasing session, with its lines, payments
and shipments, and a status that follows the order's age."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from knowledge.synthetic.behaviour import Activity, purchased_sessions
from knowledge.synthetic.catalogue import Catalogue
from knowledge.synthetic.common import unique_numbers
from knowledge.synthetic.words import CANCEL_REASONS

CANCELLED_SHARE = 0.04
SPLIT_SHIPMENT_SHARE = 0.15
PENDING_DAYS, PROCESSED_DAYS = 2.0, 6.0  # younger than this: pending; then processed; then delivered
ADDRESS_FIELDS = ["address1", "address2", "city", "country", "state", "zip"]


@dataclass
class Orders:
    orders: pd.DataFrame
    order_items: pd.DataFrame
    payments: pd.DataFrame
    fulfillments: pd.DataFrame
    session: np.ndarray  # the session label each order came from, in `orders` row order


def purchase_lines(activity: Activity, catalogue: Catalogue) -> pd.DataFrame:
    """Carted products of purchasing sessions, one line per distinct product per session."""
    views = activity.views
    bought = purchased_sessions(activity)
    row = activity.sessions.index.get_indexer(views["session"].to_numpy())
    lines = views[views["carted"].to_numpy() & bought[row]].drop_duplicates(["session", "product"])
    discount = activity.sessions["discount"].to_numpy()[activity.sessions.index.get_indexer(lines["session"])]
    price = catalogue.variants["price"].to_numpy()[lines["variant"].to_numpy()]
    return lines.assign(unit_price=np.round(price * discount, 2)).reset_index(drop=True)


def _status(rng: np.random.Generator, age_days: np.ndarray) -> np.ndarray:
    status = np.where(age_days < PENDING_DAYS, "pending",
                      np.where(age_days < PROCESSED_DAYS, "processed", "delivered")).astype(object)
    status[rng.random(len(age_days)) < CANCELLED_SHARE] = "cancelled"
    return status


def _pay_with(rng: np.random.Generator, users: np.ndarray, methods: pd.DataFrame) -> np.ndarray:
    """A payment method of the order's own customer: mostly their first one, sometimes another."""
    grouped = methods.groupby("user_id", sort=False)["payment_method_id"].agg(list)
    choice = []
    for user in users:
        own = grouped[user]
        choice.append(own[0] if rng.random() < 0.75 or len(own) == 1 else own[rng.integers(len(own))])
    return np.array(choice, dtype=object)


def _fulfillments(rng: np.random.Generator, items: pd.DataFrame, shipped: np.ndarray) -> pd.DataFrame:
    """One parcel per shipped order; some multi-line orders go out as two (split at a random line)."""
    lines = items[items["order_id"].isin(shipped)]
    n_lines = lines.groupby("order_id", sort=False)["line_no"].transform("size").to_numpy()
    per_order = lines["line_no"].to_numpy() == 1
    split = (n_lines[per_order] > 1) & (rng.random(per_order.sum()) < SPLIT_SHIPMENT_SHARE)
    cut = np.where(split, np.floor(rng.random(len(split)) * (n_lines[per_order] - 1)) + 1, np.inf)
    seq = (lines["line_no"].to_numpy() > np.repeat(cut, n_lines[per_order])).astype(int)
    parcels = lines.assign(seq=seq).groupby(["order_id", "seq"], sort=False)["item_id"].agg(list)
    tracking = rng.integers(10**11, 10**12, size=len(parcels))
    return pd.DataFrame({
        "order_id": parcels.index.get_level_values(0), "seq": parcels.index.get_level_values(1),
        "tracking_ids": [f'["{t}"]' for t in tracking],
        "item_ids": [json.dumps(ids) for ids in parcels.to_numpy()],
    })


def make_orders(activity: Activity, catalogue: Catalogue, users: pd.DataFrame,
                methods: pd.DataFrame, lines: pd.DataFrame, checkout: np.ndarray,
                end: np.datetime64, rng: np.random.Generator) -> Orders:
    sessions = activity.sessions
    bought = np.flatnonzero(purchased_sessions(activity))
    bought = bought[np.argsort(checkout[bought], kind="stable")]
    order_ids = np.char.add("#W", unique_numbers(rng, len(bought), 7).astype(str))
    order_of_session = pd.Series(order_ids, index=sessions.index[bought])
    user = sessions["user"].to_numpy()[bought]
    when = checkout[bought]

    variants = catalogue.variants
    items = pd.DataFrame({
        "order_id": order_of_session[lines["session"]].to_numpy(),
        "product_id": catalogue.products["product_id"].to_numpy()[lines["product"].to_numpy()],
        "item_id": variants["item_id"].to_numpy()[lines["variant"].to_numpy()],
        "title": catalogue.products["title"].to_numpy()[lines["product"].to_numpy()],
        "quantity": lines["quantity"].to_numpy().astype("int32"),
        "unit_price": lines["unit_price"].to_numpy(),
        "options": variants["options"].to_numpy()[lines["variant"].to_numpy()],
    })
    items = items.set_index("order_id").loc[order_ids].reset_index()  # orders in time order
    items["line_no"] = items.groupby("order_id", sort=False).cumcount() + 1
    totals = (items["quantity"] * items["unit_price"]).groupby(items["order_id"], sort=False).sum()

    age_days = (end - when) / np.timedelta64(1, "D")
    status = _status(rng, age_days)
    customer = users.iloc[user]
    addresses = customer[ADDRESS_FIELDS].to_dict("records")
    orders = pd.DataFrame({
        "order_id": order_ids, "user_id": customer["user_id"].to_numpy(), "ordered_at": when,
        "status": status, "country": customer["country"].to_numpy(),
        "total": np.round(totals.loc[order_ids].to_numpy(), 2),
        "ship_address": [json.dumps(a) for a in addresses],
        "cancel_reason": np.where(status == "cancelled",
                                  np.array(CANCEL_REASONS, dtype=object)[rng.integers(2, size=len(status))],
                                  None),
    })
    method = _pay_with(rng, orders["user_id"].to_numpy(), methods)
    payments = pd.DataFrame({"order_id": order_ids, "seq": 0, "transaction_type": "payment",
                             "amount": orders["total"].to_numpy(), "payment_method_id": method})
    refunded = status == "cancelled"
    refunds = payments[refunded].assign(seq=1, transaction_type="refund")
    payments = pd.concat([payments, refunds]).sort_values(["order_id", "seq"], ignore_index=True)
    shipped = order_ids[np.isin(status, ["processed", "delivered"])]
    return Orders(orders, items, payments, _fulfillments(rng, items, shipped),
                  sessions.index.to_numpy()[bought])
