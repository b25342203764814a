import duckdb
import pytest

from knowledge import warehouse


def test_schema_has_every_table_the_tools_need():
    names = set(warehouse.table_names())
    assert {
        "users", "products", "product_variants", "orders", "order_items", "payment_methods",
        "payments", "fulfillments", "events", "campaigns", "campaign_assignments", "imports",
        "documents", "segments",
    } <= names


def test_failed_update_leaves_previous_warehouse_untouched(tmp_path):
    path = tmp_path / "shop.duckdb"
    with warehouse.atomic_update(path) as con:
        con.execute("INSERT INTO products VALUES ('p1', 'Lantern', NULL, 'home', 3.5)")
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="boom"), warehouse.atomic_update(path) as con:
        con.execute("DELETE FROM products")
        raise RuntimeError("boom")
    assert path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT title FROM products").fetchall() == [("Lantern",)]


def test_missing_warehouse_says_how_to_build_it(tmp_path):
    with pytest.raises(warehouse.WarehouseMissingError, match="shopmind data import synthetic"):
        warehouse.connect(tmp_path / "none.duckdb")
