"""The tables a shop may bring, in shopmind's own words: each column's type, whether it is
required, and the range check a value must pass. A mapping file (``shop.yaml``) or a preset
maps a raw file's columns onto these; every importer stage below reads this one description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "int", "number", "timestamp", "bool"]

EVENT_TYPES = ("view", "click", "cart", "fav", "purchase")
CHANNELS = ("email", "coupon", "ad")


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "text"
    required: bool = False
    check: str | None = None  # SQL over the typed value ``v``; a row failing it is rejected
    reason: str | None = None  # what the check means, for the rejects table

    @property
    def sql_type(self) -> str:
        return {"text": "VARCHAR", "int": "BIGINT", "number": "DOUBLE", "timestamp": "TIMESTAMP",
                "bool": "BOOLEAN"}[self.kind]


def _text(*names: str) -> list[Column]:
    return [Column(n) for n in names]


NON_NEGATIVE = ("v >= 0", "is negative")
ORDER_FIELDS = [Column("customer_id"), Column("ordered_at", "timestamp"), Column("status"),
                Column("country"), Column("currency")]

TABLES: dict[str, list[Column]] = {
    "customers": [
        Column("customer_id", required=True),
        *_text("first_name", "last_name", "email", "country", "address1", "address2", "city",
               "state", "zip"),
        Column("signup_at", "timestamp"),
    ],
    "products": [
        Column("product_id", required=True), Column("title", required=True),
        *_text("description", "category"),
        Column("price", "number", check=NON_NEGATIVE[0], reason=NON_NEGATIVE[1]),
    ],
    "orders": [
        Column("order_id", required=True), *ORDER_FIELDS,
        Column("total", "number"),
    ],
    "order_lines": [
        Column("order_id", required=True),
        Column("line_no", "int", check="v >= 1", reason="is below 1"),
        Column("product_id", required=True), Column("item_id"), Column("title"),
        Column("quantity", "int", required=True, check="v <> 0", reason="is zero"),
        Column("unit_price", "number", required=True, check=NON_NEGATIVE[0],
               reason=NON_NEGATIVE[1]),
        *ORDER_FIELDS,
    ],
    "payments": [
        Column("order_id", required=True),
        Column("seq", "int", check="v >= 1", reason="is below 1"),
        Column("transaction_type", check="v IN ('payment', 'refund')",
               reason="is not payment or refund"),
        Column("amount", "number", required=True), Column("payment_method_id"),
        Column("currency"),
    ],
    "events": [
        Column("customer_id", required=True), Column("product_id", required=True),
        Column("event_type", required=True, check=f"v IN {EVENT_TYPES}",
               reason="is not one of " + ", ".join(EVENT_TYPES)),
        Column("ts", "timestamp", required=True), Column("session_id"), Column("category"),
        Column("quantity", "int"), Column("price", "number", check=NON_NEGATIVE[0],
                                           reason=NON_NEGATIVE[1]),
    ],
    "campaigns": [
        Column("campaign_id", required=True), Column("name"),
        Column("channel", required=True, check=f"v IN {CHANNELS}",
               reason="is not one of " + ", ".join(CHANNELS)),
        Column("arms"), Column("started_at", "timestamp"), Column("ended_at", "timestamp"),
        Column("randomized", "bool"),
        Column("outcome_window_days", "int", check="v >= 0", reason="is negative"),
        Column("description"),
    ],
    "assignments": [
        Column("campaign_id", required=True), Column("customer_id", required=True),
        Column("arm", required=True), Column("assigned_at", "timestamp"),
        Column("channel", check=f"v IN {CHANNELS}", reason="is not one of " + ", ".join(CHANNELS)),
        Column("cost", "number", check=NON_NEGATIVE[0], reason=NON_NEGATIVE[1]),
        Column("converted", "bool"), Column("revenue", "number"), Column("visited", "bool"),
    ],
    "outcomes": [
        Column("campaign_id", required=True), Column("customer_id", required=True),
        Column("converted", "bool"), Column("revenue", "number"), Column("visited", "bool"),
    ],
}

# Columns that identify a row of a table within one file: a later duplicate is rejected.
KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",), "products": ("product_id",), "orders": ("order_id",),
    "campaigns": ("campaign_id",), "assignments": ("campaign_id", "customer_id"),
    "outcomes": ("campaign_id", "customer_id"),
    "events": ("customer_id", "product_id", "event_type", "ts", "session_id"),
    "order_lines": ("order_id", "line_no"), "payments": ("order_id", "seq"),
}


def column(table: str, name: str) -> Column:
    return next(c for c in TABLES[table] if c.name == name)
