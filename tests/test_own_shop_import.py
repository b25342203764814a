"""A shop's own exports: the shopify and transactions presets, a shop.yaml mapping, incremental
and idempotent re-imports, rejects with their lines, and the all-or-nothing guarantee."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from knowledge.cli import import_source
from knowledge.importers import DataFileError
from tests.own_shop_files import (
    SHOPIFY_HEADER,
    SHOPIFY_ROWS,
    TX_HEADER,
    TX_ROWS,
    tables,
    write_csv,
    write_parquet,
)


def rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def import_tx(settings, path: Path, **options):
    return import_source(settings, "transactions", path=path, into=settings.warehouse, **options)


def test_transactions_preset_fills_orders_lines_products_users_and_purchases(tmp_path, settings):
    _, report = import_tx(settings, write_csv(tmp_path / "tx.csv", TX_HEADER, TX_ROWS))
    wh = settings.warehouse
    assert rows(wh, "SELECT order_id, user_id, status, total FROM orders ORDER BY 1") == [
        ("o1", "c1", "completed", 12.0), ("o2", "c2", "completed", 3.5),
        ("o3", "c1", "completed", 9.0)]
    assert rows(wh, "SELECT order_id, line_no, product_id, quantity FROM order_items "
                    "ORDER BY 1, 2")[:2] == [("o1", 1, "mug", 2), ("o1", 2, "plate", 1)]
    assert rows(wh, "SELECT product_id, title, price FROM products ORDER BY 1") == [
        ("bowl", "Green bowl", 2.25), ("mug", "Red mug", 3.5), ("plate", "Blue plate", 5.0)]
    assert rows(wh, "SELECT user_id, country FROM users ORDER BY 1") == [("c1", "UK"),
                                                                         ("c2", "France")]
    assert rows(wh, "SELECT count(*) FROM events WHERE event_type = 'purchase'") == [(4,)]
    assert report.counts["order_items"] == {"read": 4, "inserted": 4, "updated": 0,
                                            "unchanged": 0, "rejected": 0}


def test_shopify_export_takes_order_fields_from_each_orders_first_row(tmp_path, settings):
    export = write_csv(tmp_path / "orders_export.csv", SHOPIFY_HEADER, SHOPIFY_ROWS)
    import_source(settings, "shopify", path=export, into=settings.warehouse,
                  timezone="America/New_York", currency="USD")
    wh = settings.warehouse
    assert rows(wh, "SELECT order_id, user_id, ordered_at, status, country, total FROM orders "
                    "ORDER BY 1") == [
        ("#1001", "ann@example.com", datetime(2024, 3, 1, 10), "delivered", "US", 25.0),
        ("#1002", "bo@example.com", datetime(2024, 3, 2, 18, 30), "cancelled", "US", 7.5)]
    assert rows(wh, "SELECT order_id, line_no, product_id, title, quantity, unit_price "
                    "FROM order_items ORDER BY 1, 2") == [
        ("#1001", 1, "LAN-1", "Lantern", 2, 7.5), ("#1001", 2, "Candle", "Candle", 1, 10.0),
        ("#1002", 1, "LAN-1", "Lantern", 1, 7.5)]
    assert rows(wh, "SELECT user_id, first_name, last_name, city, zip FROM users ORDER BY 1") == [
        ("ann@example.com", "Ann", "Lee", "Boston", "02110"),
        ("bo@example.com", "Bo", "Diaz", "Austin", "73301")]
    # the cancelled order makes no purchase events; payments come from the paid orders
    assert rows(wh, "SELECT session_id, product_id FROM events ORDER BY 2") == [
        ("#1001", "Candle"), ("#1001", "LAN-1")]
    assert rows(wh, "SELECT order_id, amount, payment_method_id FROM payments ORDER BY 1") == [
        ("#1001", 25.0, "Shopify Payments"), ("#1002", 7.5, "PayPal")]


def test_timestamps_with_an_offset_are_converted_to_the_shops_time_zone(tmp_path, settings):
    export = write_csv(tmp_path / "orders_export.csv", SHOPIFY_HEADER, SHOPIFY_ROWS[:2])
    import_source(settings, "shopify", path=export, into=settings.warehouse,
                  timezone="Europe/London")
    assert rows(settings.warehouse, "SELECT ordered_at FROM orders") == [
        (datetime(2024, 3, 1, 15),)]


def test_a_row_in_another_currency_is_rejected(tmp_path, settings):
    export = write_csv(tmp_path / "orders_export.csv", SHOPIFY_HEADER, SHOPIFY_ROWS)
    settings = settings.model_copy(update={"import_max_reject_fraction": 1.0})
    _, report = import_source(settings, "shopify", path=export, into=settings.warehouse,
                              currency="EUR")
    assert {(r["line"], r["column"], r["reason"]) for r in report.rejects} >= {
        (2, "currency", "is not the shop currency EUR")}


def test_reimporting_the_same_file_leaves_the_warehouse_byte_identical(tmp_path, settings):
    export = write_csv(tmp_path / "tx.csv", TX_HEADER, TX_ROWS)
    import_tx(settings, export)
    before = settings.warehouse.read_bytes()
    _, report = import_tx(settings, export)
    assert settings.warehouse.read_bytes() == before
    assert all(c["inserted"] == c["updated"] == 0 for c in report.counts.values())
    assert report.counts["order_items"]["unchanged"] == 4
    assert "nothing changed" in report.notes[-1]


def test_next_weeks_export_adds_new_orders_and_updates_changed_ones(tmp_path, settings):
    import_tx(settings, write_csv(tmp_path / "week1.csv", TX_HEADER, TX_ROWS[:3]))
    week2 = [TX_ROWS[2][:7] + ["cancelled", "France"], TX_ROWS[3]]
    _, report = import_tx(settings, write_csv(tmp_path / "week2.csv", TX_HEADER, week2))
    assert report.counts["orders"] == {"read": 0, "inserted": 1, "updated": 1, "unchanged": 0,
                                       "rejected": 0}
    assert rows(settings.warehouse, "SELECT order_id, status FROM orders ORDER BY 1") == [
        ("o1", "completed"), ("o2", "cancelled"), ("o3", "completed")]
    # the cancelled order's purchase event is gone, the new order's are there
    assert rows(settings.warehouse, "SELECT DISTINCT session_id FROM events ORDER BY 1") == [
        ("o1",), ("o3",)]


def test_two_exports_split_by_time_equal_one_import_of_the_whole(tmp_path, settings):
    # February sells the mug under another title and price to a customer now in Spain: the
    # derived product (title, median price) and user (most common country) must follow.
    later = [["o4", "c2", "2024-02-03 09:00:00", "mug", "Red mug XL", "1", "4.50", "", "Spain"],
             ["o5", "c2", "2024-02-04 09:00:00", "mug", "Red mug XL", "1", "4.50", "", "Spain"],
             ["o6", "c3", "2024-02-05 09:00:00", "mug", "Red mug XL", "1", "4.50", "", "Spain"]]
    whole = settings.model_copy(update={"warehouse_path": tmp_path / "whole.duckdb"})
    import_tx(whole, write_csv(tmp_path / "all.csv", TX_HEADER, TX_ROWS + later))
    split = settings.model_copy(update={"warehouse_path": tmp_path / "split.duckdb"})
    import_tx(split, write_csv(tmp_path / "jan.csv", TX_HEADER, TX_ROWS[:3]))
    import_tx(split, write_csv(tmp_path / "feb.csv", TX_HEADER, TX_ROWS[3:] + later))
    assert tables(whole.warehouse) == tables(split.warehouse)
    assert rows(split.warehouse, "SELECT title, price FROM products WHERE product_id = 'mug'") \
        == [("Red mug XL", 4.5)]
    assert rows(split.warehouse, "SELECT country FROM users WHERE user_id = 'c2'") == [("Spain",)]


def test_a_customers_file_takes_over_a_user_that_orders_made_up(tmp_path, settings):
    import_tx(settings, write_csv(tmp_path / "tx.csv", TX_HEADER, TX_ROWS))
    (tmp_path / "customers.csv").write_text("customer_id,country\nc2,Belgium\n")
    (tmp_path / "shop.yaml").write_text("currency: GBP\ntables:\n  customers:\n"
                                        "    file: customers.csv\n")
    import_source(settings, "shop", path=tmp_path, into=settings.warehouse)
    import_tx(settings, write_csv(tmp_path / "more.csv", TX_HEADER, [
        ["o7", "c2", "2024-03-01 09:00:00", "mug", "Red mug", "1", "3.50", "", "France"]]))
    assert rows(settings.warehouse, "SELECT country FROM users WHERE user_id = 'c2'") == [
        ("Belgium",)]


def test_parquet_gzip_csv_and_csv_import_the_same(tmp_path, settings):
    got = []
    for name, write in [("a.csv", write_csv), ("b.csv.gz", lambda p, h, r: write_csv(p, h, r, gz=True)),
                        ("c.parquet", write_parquet)]:
        shop = settings.model_copy(update={"warehouse_path": tmp_path / f"{name}.duckdb"})
        import_tx(shop, write(tmp_path / name, TX_HEADER, TX_ROWS))
        got.append(tables(shop.warehouse))
    assert got[0] == got[1] == got[2]


def test_bad_rows_are_rejected_with_file_line_column_and_reason(tmp_path, settings):
    bad = [TX_ROWS[0], TX_ROWS[1][:5] + ["two"] + TX_ROWS[1][6:], TX_ROWS[2][:6] + ["-1"]
           + TX_ROWS[2][7:], TX_ROWS[3][:2] + ["yesterday"] + TX_ROWS[3][3:],
           ["", "c9", "2024-01-01", "mug", "Red mug", "1", "3.5", "", "UK"]]
    export = write_csv(tmp_path / "tx.csv", TX_HEADER, bad)
    with export.open("a") as handle:
        handle.write("o9,c9,2024-01-01\n")  # too few fields
    settings = settings.model_copy(update={"import_max_reject_fraction": 1.0})
    _, report = import_tx(settings, export)
    stored = rows(settings.warehouse, "SELECT file, line, tbl, col, reason, value "
                                      "FROM import_rejects ORDER BY line")
    assert stored == [
        (str(export), 3, "order_lines", "quantity", "not a whole number", "two"),
        (str(export), 4, "order_lines", "unit_price", "is negative", "-1"),
        (str(export), 5, "order_lines", "ordered_at", "not a timestamp", "yesterday"),
        (str(export), 6, "order_lines", "order_id", "is empty", None),
        (str(export), 7, "order_lines", "product_id", "too few fields", "o9,c9,2024-01-01"),
    ]
    assert report.counts["order_items"]["read"] == 6
    assert report.counts["order_items"]["rejected"] == 5
    assert rows(settings.warehouse, "SELECT count(*) FROM order_items") == [(1,)]


def test_a_duplicate_key_is_rejected_naming_the_first_line(tmp_path, settings):
    (tmp_path / "customers.csv").write_text("id,mail\nc1,a@x.com\nc2,b@x.com\nc1,c@x.com\n")
    (tmp_path / "shop.yaml").write_text(
        "currency: GBP\nmax_reject_fraction: 0.5\ntables:\n  customers:\n    file: customers.csv\n"
        "    columns: {customer_id: id, email: mail}\n")
    _, report = import_source(settings, "shop", path=tmp_path, into=settings.warehouse)
    assert [(r["line"], r["column"], r["reason"]) for r in report.rejects] == [
        (4, "customer_id", "duplicate key (first on line 2)")]
    assert rows(settings.warehouse, "SELECT user_id, email FROM users ORDER BY 1") == [
        ("c1", "a@x.com"), ("c2", "b@x.com")]


def test_a_non_utf8_line_is_rejected_not_misread(tmp_path, settings):
    export = write_csv(tmp_path / "tx.csv", TX_HEADER, TX_ROWS)
    with export.open("ab") as handle:
        handle.write(b"o4,c3,2024-02-02 10:00:00,cafe,Caf\xe9 cup,1,2.0,,UK\n")
    settings = settings.model_copy(update={"import_max_reject_fraction": 0.5})
    _, report = import_tx(settings, export)
    assert report.rejects[0]["line"] == 6
    assert "encoding" in report.rejects[0]["reason"]


def test_too_many_rejects_fail_the_import_and_leave_the_file_byte_identical(tmp_path, settings):
    import_tx(settings, write_csv(tmp_path / "good.csv", TX_HEADER, TX_ROWS))
    before = settings.warehouse.read_bytes()
    bad = [r[:5] + ["many"] + r[6:] for r in TX_ROWS] + [TX_ROWS[0]]
    with pytest.raises(DataFileError, match=r"bad.csv: 4 of 5 rows \(80.0%\) were rejected, more "
                                            r"than the 10% allowed .*4 × order_lines.quantity "
                                            r"not a whole number \(first on line 2\)"):
        import_tx(settings, write_csv(tmp_path / "bad.csv", TX_HEADER, bad))
    assert settings.warehouse.read_bytes() == before


def test_a_truncated_gzip_fails_and_leaves_the_warehouse_byte_identical(tmp_path, settings):
    import_tx(settings, write_csv(tmp_path / "good.csv", TX_HEADER, TX_ROWS))
    before = settings.warehouse.read_bytes()
    many = [[f"o{i}", "c1", "2024-01-05 10:00:00", "mug", "Red mug", "1", "3.5", "", "UK"]
            for i in range(5000)]
    data = write_csv(tmp_path / "big.csv.gz", TX_HEADER, many, gz=True).read_bytes()
    (tmp_path / "big.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="big.csv.gz: cannot be read, the file is corrupt or "
                                            "truncated"):
        import_tx(settings, tmp_path / "big.csv.gz")
    assert settings.warehouse.read_bytes() == before
    assert sorted(p.name for p in settings.warehouse.parent.iterdir()) == [  # no temp files
        settings.warehouse.name, f"{settings.warehouse.name}.journal"]  # + the event journal


def test_sources_combine_customer_records_and_purchase_history(tmp_path, settings):
    (tmp_path / "customers.csv").write_text(
        "customer_id,email,first_name,zip\nc1,ann@x.com,Ann,02110\n")
    (tmp_path / "shop.yaml").write_text(
        "currency: GBP\ntables:\n  customers:\n    file: customers.csv\n")
    import_source(settings, "shop", path=tmp_path / "shop.yaml", into=settings.warehouse)
    import_tx(settings, write_csv(tmp_path / "tx.csv", TX_HEADER, TX_ROWS))
    assert rows(settings.warehouse, "SELECT user_id, email, first_name, zip, country FROM users "
                                    "ORDER BY 1") == [("c1", "ann@x.com", "Ann", "02110", None),
                                                      ("c2", None, None, None, "France")]
    assert rows(settings.warehouse, "SELECT count(*) FROM orders WHERE user_id = 'c1'") == [(2,)]


def test_an_import_killed_mid_way_leaves_the_warehouse_byte_identical(tmp_path, settings):
    import os
    import signal
    import subprocess
    import sys
    import time

    import_tx(settings, write_csv(tmp_path / "good.csv", TX_HEADER, TX_ROWS))
    before = settings.warehouse.read_bytes()
    many = [[f"k{i // 3}", f"c{i % 500}", "2024-03-01 10:00:00", f"p{i % 300}", "Thing", "1",
             "2.5", "", "UK"] for i in range(300_000)]
    big = write_csv(tmp_path / "big.csv", TX_HEADER, many)
    code = ("import sys; from pathlib import Path; from knowledge.settings import Settings; "
            "from knowledge.cli import import_source; "
            "import_source(Settings(), 'transactions', Path(sys.argv[1]), Path(sys.argv[2]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(big), str(settings.warehouse)],
                            cwd=Path(__file__).resolve().parents[1])
    staging = settings.warehouse.with_name(f".{settings.warehouse.name}.{proc.pid}.tmp")
    deadline = time.monotonic() + 60
    while not staging.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the import: copying, reading or merging
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert settings.warehouse.read_bytes() == before


def test_a_shopify_export_of_the_synthetic_shop_imports_every_order(tmp_path, settings,
                                                                    small_shop):
    from knowledge.synthetic.shopify_export import shopify_export_of

    export = shopify_export_of(small_shop.warehouse, tmp_path / "orders_export.csv")
    _, report = import_source(settings, "shopify", path=export, into=settings.warehouse,
                              timezone="UTC", currency="USD")
    assert sum(c["rejected"] for c in report.counts.values()) == 0
    source = "SELECT count(*), sum(quantity), round(sum(quantity * unit_price), 2) FROM order_items"
    assert rows(settings.warehouse, source) == rows(small_shop.warehouse, source)
    by_status = "SELECT status = 'cancelled', count(*) FROM orders GROUP BY 1 ORDER BY 1"
    assert rows(settings.warehouse, by_status) == rows(small_shop.warehouse, by_status)
    buyers = "SELECT count(DISTINCT user_id) FROM orders"
    assert rows(settings.warehouse, buyers) == rows(small_shop.warehouse, buyers)
    purchases = ("SELECT count(*) FROM events WHERE event_type = 'purchase' AND session_id IN "
                 "(SELECT order_id FROM orders WHERE status <> 'cancelled')")
    assert rows(settings.warehouse, purchases)[0][0] == rows(
        settings.warehouse, "SELECT count(*) FROM order_items JOIN orders USING (order_id) "
                            "WHERE status <> 'cancelled'")[0][0]


def test_shop_yaml_rules_skip_and_count_lines_and_keywords_give_categories(tmp_path, settings):
    (tmp_path / "lines.csv").write_text(
        "order,customer,date,sku,name,qty,price\n"
        "o1,c1,2024-03-01 10:00:00,mug,Red mug,2,3.5\n"
        "o1,c1,2024-03-01 10:00:00,SHIP,Shipping,1,-4.0\n"     # a fee: skipped, not rejected
        "o2,,2024-03-02 10:00:00,mug,Red mug,1,3.5\n"          # a guest line
        "o3,c2,2024-03-03 10:00:00,ship,Shipping,1,4.0\n"      # c2 bought only shipping
        "o4,c1,2024-03-04 10:00:00,lamp,Desk lamps,1,0\n")     # unpriced
    (tmp_path / "products.csv").write_text("product_id,title\nvase,Tall vase\n")
    (tmp_path / "shop.yaml").write_text("""currency: GBP
category_keywords: {kitchen: [mug], lighting: [lamp], decor: [vase]}
tables:
  order_lines:
    file: lines.csv
    columns: {order_id: order, customer_id: customer, ordered_at: date, product_id: sku,
              title: name, quantity: qty, unit_price: price}
    rules: {skip_guest_lines: true, skip_product_ids: [ship], skip_unpriced_lines: true}
  products:
    file: products.csv
""")
    _, report = import_source(settings, "shop", path=tmp_path / "shop.yaml", into=settings.warehouse)
    assert report.dropped == {
        "no customer id: guest line (dropped)": 1,
        "product id listed as not merchandise: postage, fees, vouchers (dropped)": 2,
        "unit price zero or negative (dropped)": 1}
    assert report.counts["order_items"]["read"] == 5
    assert report.counts["order_items"]["rejected"] == 0
    wh = settings.warehouse
    assert rows(wh, "SELECT order_id, product_id FROM order_items") == [("o1", "mug")]
    assert rows(wh, "SELECT product_id, category FROM products ORDER BY 1") == [
        ("mug", "kitchen"), ("vase", "decor")]
    assert rows(wh, "SELECT product_id, category FROM events") == [("mug", "kitchen")]
    assert rows(wh, "SELECT user_id FROM users ORDER BY 1") == [("c1",), ("c2",)]


def test_rules_on_a_table_other_than_order_lines_are_refused(tmp_path, settings):
    (tmp_path / "shop.yaml").write_text(
        "currency: GBP\ntables:\n  customers:\n    file: c.csv\n    rules: {skip_guest_lines: true}\n")
    with pytest.raises(DataFileError, match="tables.customers: rules belong to order_lines only"):
        import_source(settings, "shop", path=tmp_path / "shop.yaml", into=settings.warehouse)


def test_a_preset_reads_timestamps_in_the_format_given(tmp_path, settings):
    us_dates = [[*row[:2], "01/05/2024 10:00", *row[3:]] for row in TX_ROWS]
    export = write_csv(tmp_path / "tx.csv", TX_HEADER, us_dates)
    with pytest.raises(DataFileError, match="were rejected.*ordered_at not a timestamp"):
        import_tx(settings, export)
    import_tx(settings, export, timestamp_format="%m/%d/%Y %H:%M")
    assert rows(settings.warehouse, "SELECT DISTINCT ordered_at FROM orders") == [
        (datetime(2024, 1, 5, 10, 0),)]
    with pytest.raises(DataFileError, match="is not a strptime format"):
        import_tx(settings, export, timestamp_format="%Q")


def test_customer_service_tools_read_and_cancel_an_imported_order(tmp_path, settings):
    """Imported orders have no ship address, variants or parcels: the order record says so
    instead of failing, and a pending one can be cancelled."""
    import tools.customer_service  # noqa: F401  (registers the tools)
    from tools.registry import ToolContext, get_tool

    pending = [[*row[:7], "pending", row[8]] if row[0] == "o3" else row for row in TX_ROWS]
    import_tx(settings, write_csv(tmp_path / "tx.csv", TX_HEADER, pending))
    ctx = ToolContext(settings, role="customer", customer_id="c1")
    order = get_tool("get_order_details").invoke(ctx, {"order_id": "o3"})
    assert order["address"] is None and order["items"][0]["options"] == {}
    cancelled = get_tool("cancel_pending_order").invoke(
        ctx, {"order_id": "o3", "reason": "no longer needed"})
    assert cancelled["status"] == "cancelled"
    assert rows(settings.warehouse, "SELECT status, ship_address FROM orders "
                                    "WHERE order_id = 'o3'") == [("cancelled", None)]
