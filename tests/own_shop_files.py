"""Tiny hand-made exports of a shop's own data, for the own-shop importer tests."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb

TX_HEADER = ["order_id", "customer_id", "timestamp", "product_id", "title", "quantity",
             "unit_price", "status", "country"]
TX_ROWS = [
    ["o1", "c1", "2024-01-05 10:00:00", "mug", "Red mug", "2", "3.50", "", "UK"],
    ["o1", "c1", "2024-01-05 10:00:00", "plate", "Blue plate", "1", "5.00", "", "UK"],
    ["o2", "c2", "2024-01-06 11:00:00", "mug", "Red mug", "1", "3.50", "", "France"],
    ["o3", "c1", "2024-02-01 09:30:00", "bowl", "Green bowl", "4", "2.25", "", "UK"],
]

SHOPIFY_HEADER = ["Name", "Email", "Financial Status", "Fulfillment Status", "Currency", "Total",
                  "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
                  "Lineitem sku", "Billing Name", "Billing Address1", "Billing City",
                  "Billing Zip", "Billing Province", "Billing Country", "Shipping Country",
                  "Cancelled at", "Payment Method"]
# Order-level fields only on an order's first row, as Shopify exports them.
SHOPIFY_ROWS = [
    ["#1001", "Ann@Example.com", "paid", "fulfilled", "USD", "25.00",
     "2024-03-01 10:00:00 -0500", "2", "Lantern", "7.50", "LAN-1", "Ann Lee", "1 Main St",
     "Boston", "02110", "MA", "US", "US", "", "Shopify Payments"],
    ["#1001", "Ann@Example.com", "", "", "", "", "2024-03-01 10:00:00 -0500", "1", "Candle",
     "10.00", "", "", "", "", "", "", "", "", "", ""],
    ["#1002", "bo@example.com", "paid", "", "USD", "7.50", "2024-03-02 18:30:00 -0500", "1",
     "Lantern", "7.50", "LAN-1", "Bo Diaz", "9 Elm Rd", "Austin", "73301", "TX", "US", "US",
     "2024-03-03 09:00:00 -0500", "PayPal"],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]], gz: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        import gzip

        path.write_bytes(gzip.compress(buffer.getvalue().encode()))
    else:
        path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def write_parquet(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    csv_path = write_csv(path.with_suffix(".tmp.csv"), header, rows)
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar = true)) "
                f"TO '{path}' (FORMAT parquet)")
    con.close()
    csv_path.unlink()
    return path


def tables(path: Path, names: tuple[str, ...] = ("users", "products", "orders", "order_items",
                                                  "payments", "events", "campaigns",
                                                  "campaign_assignments", "documents")) -> dict:
    """Every row of the data tables, sorted: what two warehouses must agree on."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {n: sorted(con.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in names}
    finally:
        con.close()


