"""Named presets: the exports shops actually have, read with no mapping file.

``shopify``: Shopify's orders export (Orders > Export > CSV). One row per line item; the
order-level fields (Email, Financial Status, Created at, Total, addresses, ...) are filled on an
order's first row only; ``Name`` ("#1001") is the order key. The customer is the lower-cased
Email (the export has no customer id); the product is the Lineitem sku, else the Lineitem name.

``transactions``: one row per order line with an order id, a customer id, a timestamp, a
product id, a title, a quantity and a unit price, optionally a status and a country (Online
Retail is such a file). Column names are matched loosely (``InvoiceNo``, ``order_id`` and
``Order ID`` all name the order id).
"""

from __future__ import annotations

import re
from pathlib import Path

from knowledge.importers.base import DataFileError
from knowledge.importers.shop_mapping import Extract
from knowledge.importers.sql_text import quote_ident

PRESETS = ("shopify", "transactions")

SHOPIFY_REQUIRED = ["Name", "Email", "Created at", "Lineitem quantity", "Lineitem name",
                    "Lineitem price"]


def _v(column: str) -> str:
    """A raw text column, trimmed, empty as NULL."""
    return f"nullif(trim({quote_ident(column)}::VARCHAR), '')"


def _opt(header: list[str], column: str) -> str:
    return _v(column) if column in header else "NULL::VARCHAR"


def shopify(path: Path, header: list[str]) -> list[Extract]:
    missing = [c for c in SHOPIFY_REQUIRED if c not in header]
    if missing:
        raise DataFileError(path, f"missing column(s) {', '.join(missing)} of the Shopify orders "
                                  f"export; found {', '.join(header[:12])}")
    o = lambda c: _opt(header, c)
    status = f"""CASE WHEN {o('Cancelled at')} IS NOT NULL THEN 'cancelled'
        WHEN lower({o('Financial Status')}) = 'refunded' THEN 'refunded'
        WHEN lower({o('Financial Status')}) IN ('pending', 'authorized') THEN 'pending'
        WHEN lower({o('Fulfillment Status')}) = 'fulfilled' THEN 'delivered'
        WHEN {o('Financial Status')} IS NOT NULL THEN 'completed' END"""
    email = f"lower({_v('Email')})"
    first_row = f"_line IN (SELECT min(_line) FROM {{raw}} GROUP BY {quote_ident('Name')})"
    lines = Extract("order_lines", path, {
        "order_id": _v("Name"), "customer_id": email, "ordered_at": _v("Created at"),
        "status": status, "country": f"coalesce({o('Shipping Country')}, {o('Billing Country')})",
        "currency": o("Currency"),
        "product_id": f"coalesce({o('Lineitem sku')}, {_v('Lineitem name')})",
        "title": _v("Lineitem name"), "quantity": _v("Lineitem quantity"),
        "unit_price": _v("Lineitem price"),
    })
    name = o("Billing Name")
    customers = Extract("customers", path, {
        "customer_id": email, "email": email,
        "first_name": f"nullif(split_part({name}, ' ', 1), '')",
        "last_name": f"nullif(trim(substr({name}, length(split_part({name}, ' ', 1)) + 1)), '')",
        "address1": o("Billing Address1"), "address2": o("Billing Address2"),
        "city": o("Billing City"), "state": o("Billing Province"), "zip": o("Billing Zip"),
        "country": o("Billing Country"),
    }, where=f"{first_row} AND {_v('Email')} IS NOT NULL", duplicates="last")
    extracts = [lines, customers]
    if "Total" in header:
        extracts.append(Extract("orders", path, {
            "order_id": _v("Name"), "total": _v("Total"), "currency": o("Currency")},
            where=first_row))
        extracts.append(Extract("payments", path, {
            "order_id": _v("Name"), "amount": _v("Total"),
            "payment_method_id": f"coalesce({o('Payment Method')}, 'unknown')",
            "currency": o("Currency")},
            where=f"{first_row} AND lower(coalesce({o('Financial Status')}, '')) "
                  f"IN ('paid', 'partially_refunded', 'refunded', 'partially_paid')"))
    return extracts


# shopmind column -> accepted raw names, compared lower-case without spaces and punctuation
TRANSACTION_NAMES: dict[str, tuple[str, ...]] = {
    "order_id": ("orderid", "order", "invoiceno", "invoice", "invoiceid", "transactionid"),
    "customer_id": ("customerid", "customer", "userid", "clientid", "buyerid"),
    "ordered_at": ("timestamp", "orderedat", "invoicedate", "orderdate", "date", "datetime",
                   "createdat", "time"),
    "product_id": ("productid", "stockcode", "sku", "itemid", "product", "productcode"),
    "title": ("title", "description", "productname", "name", "itemname"),
    "quantity": ("quantity", "qty", "units"),
    "unit_price": ("unitprice", "price", "itemprice"),
    "status": ("status", "orderstatus"),
    "country": ("country", "countrycode"),
}
TRANSACTION_REQUIRED = ("order_id", "customer_id", "ordered_at", "product_id", "quantity",
                        "unit_price")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def transactions(path: Path, header: list[str]) -> list[Extract]:
    by_norm = {_norm(h): h for h in header}
    exprs, missing = {}, []
    for column, names in TRANSACTION_NAMES.items():
        raw = next((by_norm[n] for n in names if n in by_norm), None)
        if raw is None:
            if column in TRANSACTION_REQUIRED:
                missing.append(f"{column} (one of: {', '.join(names)})")
            continue
        exprs[column] = _v(raw)
    if missing:
        raise DataFileError(path, f"missing column(s) {'; '.join(missing)}; found "
                                  f"{', '.join(header)}")
    return [Extract("order_lines", path, exprs)]


def extracts_of(preset: str, path: Path, header: list[str]) -> list[Extract]:
    if preset == "shopify":
        return shopify(path, header)
    if preset == "transactions":
        return transactions(path, header)
    raise DataFileError(path, f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
