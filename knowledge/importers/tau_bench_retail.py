"""tau-bench retail (v1): the mock customer-service database and its agent policy.

users.json / orders.json.gz / products.json are validated against the record models in
``knowledge.tau_records`` and spread over users, payment_methods, products,
product_variants, orders, order_items, payments and fulfillments; ``knowledge.tau_records``
rebuilds the exact source dicts from those tables. The agent policy (policy_wiki.md) and its
extra rules (rules.json) become two rows of ``documents``. The source has no timestamps:
``orders.ordered_at`` stays NULL.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from knowledge.importers.base import (
    DataFileError,
    ImportReport,
    read_json,
    replace_table,
    require_file,
    validate,
)
from knowledge.settings import Settings
from knowledge.tau_records import Order, Product, User

DOCUMENT_SOURCE = "tau-bench retail policy"


def _check_user_orders(path: Path, users: dict[str, User], orders: dict[str, Order]) -> None:
    """Each user's `orders` list must be that user's orders in orders-file order: the
    warehouse keeps the list only as the order of the orders table."""
    by_user: dict[str, list[str]] = {}
    for order_id, order in orders.items():
        if order.user_id not in users:
            raise DataFileError(path, f"order {order_id} belongs to unknown user {order.user_id}")
        by_user.setdefault(order.user_id, []).append(order_id)
    for user_id, user in users.items():
        if user.orders != by_user.get(user_id, []):
            raise DataFileError(path, f"user {user_id} lists orders {user.orders}, but the "
                                      f"orders file has {by_user.get(user_id, [])} for them")


def _user_tables(users: dict[str, User]) -> tuple[pd.DataFrame, pd.DataFrame]:
    people = pd.DataFrame([
        {"user_id": uid, **u.name.model_dump(), "email": u.email, **u.address.model_dump()}
        for uid, u in users.items()])
    methods = pd.DataFrame([
        {"payment_method_id": pid, "user_id": uid, "source": m.source, "brand": m.brand,
         "last_four": m.last_four, "balance": m.balance}
        for uid, u in users.items() for pid, m in u.payment_methods.items()])
    return people, methods


def _describe(product: Product) -> str:
    variants = list(product.variants.values())
    options: dict[str, list[str]] = {}
    for v in variants:
        for key, value in v.options.items():
            options.setdefault(key, [])
            if value not in options[key]:
                options[key].append(value)
    prices = [v.price for v in variants]
    listed = "; ".join(f"{k}: {', '.join(vals)}" for k, vals in options.items())
    return (f"{product.name} in {len(variants)} variants "
            f"({sum(v.available for v in variants)} available), ${min(prices):.2f} to "
            f"${max(prices):.2f}. Options: {listed}.")


def _product_tables(products: dict[str, Product]) -> tuple[pd.DataFrame, pd.DataFrame]:
    catalogue = pd.DataFrame([
        {"product_id": pid, "title": p.name, "description": _describe(p), "category": p.name,
         "price": min(v.price for v in p.variants.values())}
        for pid, p in products.items()])
    variants = pd.DataFrame([
        {"item_id": iid, "product_id": pid, "options": json.dumps(v.options),
         "available": v.available, "price": v.price}
        for pid, p in products.items() for iid, v in p.variants.items()])
    return catalogue, variants


def _order_tables(orders: dict[str, Order]) -> dict[str, pd.DataFrame]:
    return {
        "orders": pd.DataFrame([
            {"order_id": oid, "user_id": o.user_id, "status": o.status,
             "country": o.address.country, "total": round(sum(i.price for i in o.items), 2),
             "ship_address": o.address.model_dump_json(), "cancel_reason": o.cancel_reason,
             "request": json.dumps(o.model_extra) if o.model_extra else None}
            for oid, o in orders.items()]),
        "order_items": pd.DataFrame([
            {"order_id": oid, "line_no": n, "product_id": i.product_id, "item_id": i.item_id,
             "title": i.name, "quantity": 1, "unit_price": i.price,
             "options": json.dumps(i.options)}
            for oid, o in orders.items() for n, i in enumerate(o.items, start=1)]),
        "payments": pd.DataFrame([
            {"order_id": oid, "seq": n, **p.model_dump()}
            for oid, o in orders.items() for n, p in enumerate(o.payment_history, start=1)]),
        "fulfillments": pd.DataFrame([
            {"order_id": oid, "seq": n, "tracking_ids": json.dumps(f.tracking_id),
             "item_ids": json.dumps(f.item_ids)}
            for oid, o in orders.items() for n, f in enumerate(o.fulfillments, start=1)]),
    }


def _documents(source_dir: Path) -> tuple[pd.DataFrame, int]:
    """The policy and the rules as two documents, and the number of rules."""
    policy_path = require_file(source_dir / "policy_wiki.md")
    policy = policy_path.read_text(encoding="utf-8")
    if not policy.strip():
        raise DataFileError(policy_path, "the file is empty (expected the agent policy)")
    rules_path = source_dir / "rules.json"
    rules = validate(rules_path, list[str], read_json(rules_path))
    return pd.DataFrame([
        {"doc_id": "tau/policy", "title": "Retail agent policy", "source": DOCUMENT_SOURCE,
         "text": policy},
        {"doc_id": "tau/rules", "title": "Retail agent rules", "source": DOCUMENT_SOURCE,
         "text": "\n".join(f"- {rule}" for rule in rules)},
    ]), len(rules)


def run(con: duckdb.DuckDBPyConnection, source_dir: Path, settings: Settings) -> ImportReport:
    source_dir = Path(source_dir)
    paths = {name: source_dir / name for name in ("users.json", "orders.json.gz", "products.json")}
    users = validate(paths["users.json"], dict[str, User], read_json(paths["users.json"]))
    orders = validate(paths["orders.json.gz"], dict[str, Order], read_json(paths["orders.json.gz"]))
    products = validate(paths["products.json"], dict[str, Product],
                        read_json(paths["products.json"]))
    _check_user_orders(paths["users.json"], users, orders)
    documents, n_rules = _documents(source_dir)

    people, methods = _user_tables(users)
    catalogue, variants = _product_tables(products)
    tables = {"users": people, "payment_methods": methods, "products": catalogue,
              "product_variants": variants, **_order_tables(orders)}
    report = ImportReport(source="tau_bench_retail", raw={
        "users": len(users), "orders": len(orders), "products": len(products),
        "variants": len(variants), "rules": n_rules})
    for status in ("pending", "processed", "delivered", "cancelled"):
        report.raw[f"orders_{status}"] = sum(o.status == status for o in orders.values())
    for table, frame in tables.items():
        report.rows[table] = replace_table(con, table, frame)
    # Only this source's documents: a shared warehouse may hold other policies too.
    con.execute("DELETE FROM documents WHERE source = ?", [DOCUMENT_SOURCE])
    con.register("_documents", documents)
    con.execute("INSERT INTO documents (doc_id, title, source, text) "
                "SELECT doc_id, title, source, text FROM _documents")
    con.unregister("_documents")
    report.rows["documents"] = len(documents)
    report.notes.append("mock data generated by the tau-bench authors; no timestamps "
                        "(orders.ordered_at is NULL)")
    return report
