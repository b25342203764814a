"""A warehouse's orders written as a Shopify orders export, to try the ``shopify`` import path
on the synthetic shop (docs/own_shop.md):

    python -m knowledge.synthetic.shopify_export data/synthetic.duckdb orders_export.csv

The documented columns of Shopify's orders CSV: one row per line item, the order-level fields
on each order's first row only; ``Name`` is the order id, the customer is the e-mail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb


def shopify_export_of(warehouse: Path, out: Path) -> Path:
    """The warehouse's orders as a Shopify orders export (the documented columns; order-level
    fields on each order's first line only). The customer is the e-mail, as in Shopify."""
    first = "CASE WHEN i.line_no = 1 THEN {} END"
    con = duckdb.connect(str(warehouse), read_only=True)
    con.execute(f"""COPY (
        SELECT o.order_id AS "Name", u.email AS "Email",
            {first.format("CASE o.status WHEN 'pending' THEN 'pending' ELSE 'paid' END")}
                AS "Financial Status",
            {first.format("CASE WHEN o.status = 'delivered' THEN 'fulfilled' END")}
                AS "Fulfillment Status",
            {first.format("'USD'")} AS "Currency", {first.format("o.total")} AS "Total",
            strftime(o.ordered_at, '%Y-%m-%d %H:%M:%S') || ' +0000' AS "Created at",
            i.quantity AS "Lineitem quantity", i.title AS "Lineitem name",
            i.unit_price AS "Lineitem price", i.product_id AS "Lineitem sku",
            {first.format("u.first_name || ' ' || u.last_name")} AS "Billing Name",
            {first.format("u.address1")} AS "Billing Address1",
            {first.format("u.city")} AS "Billing City", {first.format("u.zip")} AS "Billing Zip",
            {first.format("u.state")} AS "Billing Province",
            {first.format("u.country")} AS "Billing Country",
            {first.format("o.country")} AS "Shipping Country",
            {first.format("CASE WHEN o.status = 'cancelled' THEN strftime(o.ordered_at, "
                          "'%Y-%m-%d %H:%M:%S') || ' +0000' END")} AS "Cancelled at",
            {first.format("'Shopify Payments'")} AS "Payment Method"
        FROM order_items i JOIN orders o USING (order_id) JOIN users u USING (user_id)
        ORDER BY o.ordered_at, o.order_id, i.line_no) TO '{str(out).replace(chr(39), chr(39) * 2)}' (HEADER)""")
    con.close()
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m knowledge.synthetic.shopify_export WAREHOUSE OUT.csv")
    print(shopify_export_of(Path(sys.argv[1]), Path(sys.argv[2])))
