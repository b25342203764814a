"""tau-bench retail records: their shapes (pydantic) and their rebuild from the warehouse.

The importer validates users.json / orders.json / products.json against the models below and
spreads them over the warehouse tables; ``get_user_record`` / ``get_order_record`` /
``get_product_record`` put them back together as exactly the dicts of those files (plus the
fields the customer-service actions add: ``cancel_reason`` and the return/exchange request
fields such as ``return_items``). The customer-service tools return these dicts.

A user's ``orders`` list and ``payment_methods`` come back in the order they were imported
(warehouse insertion order, DuckDB ``rowid``): the source lists them in file order.

An order's ``items`` has one entry per unit, as in tau-bench ("there could be duplicate items"):
an order_items line of quantity 3 is three identical entries, in line order
(``knowledge.customer_records.save_order`` groups them back into lines).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Name(_Strict):
    first_name: str
    last_name: str


class Address(_Strict):
    address1: str
    address2: str
    city: str
    country: str
    state: str
    zip: str


class PaymentMethod(_Strict):
    source: Literal["credit_card", "paypal", "gift_card"]
    id: str
    brand: str | None = None
    last_four: str | None = None
    balance: float | None = None


class User(_Strict):
    name: Name
    address: Address
    email: str
    payment_methods: dict[str, PaymentMethod]
    orders: list[str]


class OrderItem(_Strict):
    name: str
    product_id: str
    item_id: str
    price: float
    options: dict[str, str]


class Fulfillment(_Strict):
    tracking_id: list[str]
    item_ids: list[str]


class Payment(_Strict):
    transaction_type: Literal["payment", "refund"]
    amount: float
    payment_method_id: str


class Order(BaseModel):
    """Extra fields (``return_items``, ``exchange_new_items``, ...) are a pending request."""

    model_config = ConfigDict(extra="allow")
    order_id: str
    user_id: str
    address: Address
    items: list[OrderItem]
    fulfillments: list[Fulfillment]
    status: str
    payment_history: list[Payment]
    cancel_reason: str | None = None


class Variant(_Strict):
    item_id: str
    options: dict[str, str]
    available: bool
    price: float


class Product(_Strict):
    name: str
    product_id: str
    variants: dict[str, Variant]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> list[dict[str, Any]]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def get_user_record(con: duckdb.DuckDBPyConnection, user_id: str) -> dict | None:
    """The users.json entry of `user_id`, or None when there is no such user."""
    users = _rows(con, "SELECT * FROM users WHERE user_id = ?", user_id)
    if not users:
        return None
    user = users[0]
    methods = {}
    for m in _rows(con, "SELECT * FROM payment_methods WHERE user_id = ? ORDER BY rowid", user_id):
        method = {"source": m["source"], "id": m["payment_method_id"]}
        method.update({k: m[k] for k in ("brand", "last_four", "balance") if m[k] is not None})
        methods[m["payment_method_id"]] = method
    orders = con.execute(
        "SELECT order_id FROM orders WHERE user_id = ? ORDER BY rowid", [user_id]).fetchall()
    return {
        "name": {"first_name": user["first_name"], "last_name": user["last_name"]},
        "address": {k: user[k] for k in Address.model_fields},
        "email": user["email"],
        "payment_methods": methods,
        "orders": [o[0] for o in orders],
    }


def _json(text: str | None, missing: Any) -> Any:
    """A JSON column's value; ``missing`` where it is NULL (imports fill only what they have)."""
    return missing if text is None else json.loads(text)


def order_lines(con: duckdb.DuckDBPyConnection, order_id: str) -> list[dict[str, Any]]:
    """The order's order_items rows (every column), by line_no."""
    return _rows(con, "SELECT * FROM order_items WHERE order_id = ? ORDER BY line_no", order_id)


def line_units(line: dict) -> int:
    """How many entries an order_items line is in the order's ``items``: its quantity (NULL
    counts as 1; a negative line, a credit on an imported invoice, by its size, as the
    importer's orders.total counts it)."""
    return 1 if line["quantity"] is None else abs(line["quantity"])


def line_item(line: dict) -> dict:
    """One unit of an order_items line, as an entry of tau-bench's ``items`` (a new dict)."""
    return {"name": line["title"], "product_id": line["product_id"], "item_id": line["item_id"],
            "price": line["unit_price"], "options": _json(line["options"], {})}


def get_order_record(con: duckdb.DuckDBPyConnection, order_id: str) -> dict | None:
    """The orders.json entry of `order_id` (with any cancel reason or request), or None."""
    orders = _rows(con, "SELECT * FROM orders WHERE order_id = ?", order_id)
    if not orders:
        return None
    order = orders[0]
    lines = order_lines(con, order_id)
    parcels = _rows(con, "SELECT * FROM fulfillments WHERE order_id = ? ORDER BY seq", order_id)
    payments = _rows(con, "SELECT * FROM payments WHERE order_id = ? ORDER BY seq", order_id)
    record = {
        "order_id": order_id,
        "user_id": order["user_id"],
        "address": _json(order["ship_address"], None),  # None: an imported shop's order
        "items": [line_item(line) for line in lines for _ in range(line_units(line))],
        "fulfillments": [{"tracking_id": json.loads(p["tracking_ids"]),
                          "item_ids": json.loads(p["item_ids"])} for p in parcels],
        "status": order["status"],
        "payment_history": [{k: p[k] for k in Payment.model_fields} for p in payments],
    }
    if order["cancel_reason"] is not None:
        record["cancel_reason"] = order["cancel_reason"]
    if order["request"] is not None:
        record.update(json.loads(order["request"]))
    return record


def get_product_record(con: duckdb.DuckDBPyConnection, product_id: str) -> dict | None:
    """The products.json entry of `product_id`, or None when there is no such product."""
    products = _rows(con, "SELECT title FROM products WHERE product_id = ?", product_id)
    if not products:
        return None
    variants = _rows(con, "SELECT * FROM product_variants WHERE product_id = ? ORDER BY rowid",
                     product_id)
    return {
        "name": products[0]["title"],
        "product_id": product_id,
        "variants": {v["item_id"]: {"item_id": v["item_id"], "options": json.loads(v["options"]),
                                    "available": v["available"], "price": v["price"]}
                     for v in variants},
    }
