"""The importers' cleaning and mapping rules, on tiny hand-written files (no shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from knowledge.importers import DataFileError, hillstrom, online_retail, taobao, tau_bench_retail
from knowledge.importers.keyword_categories import category_sql
from knowledge.importers.line_rules import GUEST, NOT_MERCHANDISE, UNPRICED
from knowledge.importers.own_shop import NothingChanged
from knowledge.importers.taobao import sessionize
from knowledge.tau_records import get_order_record, get_product_record, get_user_record
from knowledge.warehouse import create_schema
from tests.retail_files import RETAIL_HEADER, RETAIL_LINES, write_gz


@pytest.fixture
def con():
    connection = duckdb.connect()
    create_schema(connection)
    yield connection
    connection.close()


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_online_retail_skips_guests_fees_bad_prices_and_keeps_cancellations(tmp_path, con, settings):
    write_gz(tmp_path / online_retail.FILE, "\n".join([RETAIL_HEADER, *RETAIL_LINES]) + "\n")
    report = online_retail.run(con, tmp_path, settings)
    assert report.dropped == {GUEST: 1, NOT_MERCHANDISE: 1, UNPRICED: 1}
    assert report.counts["order_items"]["read"] == len(RETAIL_LINES)
    # a credit note: C536379 and 536367, whose every line has a negative quantity
    assert rows(con, "SELECT order_id, user_id, status, country, total FROM orders ORDER BY 1") == [
        ("536365", "17850", "completed", "United Kingdom", 15.3),
        ("536367", "17850", "cancelled", "United Kingdom", 29.85),
        ("536369", "17851", "completed", "France", 5.9),
        ("C536379", "17850", "cancelled", "United Kingdom", 5.1),
    ]
    assert rows(con, "SELECT order_id, product_id, quantity FROM order_items ORDER BY 1") == [
        ("536365", "85123A", 6), ("536367", "22634", 3), ("536369", "85123A", 2),
        ("C536379", "85123A", 2)]
    assert rows(con, "SELECT user_id, session_id, event_type, quantity, price, category "
                     "FROM events ORDER BY ts") == [
        ("17850", "536365", "purchase", 6, 2.55, "lighting"),
        ("17851", "536369", "purchase", 2, 2.95, "lighting"),
    ]
    assert rows(con, "SELECT user_id, country FROM users ORDER BY 1") == [
        ("17850", "United Kingdom"), ("17851", "France")]
    assert rows(con, "SELECT product_id, title, price, category FROM products ORDER BY 1") == [
        ("22634", "CHILDS BREAKFAST SET", 9.95, "other"),
        ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55, "lighting")]
    with pytest.raises(NothingChanged):  # importing again changes nothing, duplicates nothing
        online_retail.run(con, tmp_path, settings)
    assert rows(con, "SELECT count(*) FROM order_items") == [(4,)]


def test_a_customer_named_only_by_skipped_lines_is_still_a_user(tmp_path, con, settings):
    postage_only = "536400,POST,POSTAGE,1,2010-12-02 10:00:00,18.00,12345,Germany"
    write_gz(tmp_path / online_retail.FILE,
             "\n".join([RETAIL_HEADER, *RETAIL_LINES, postage_only]) + "\n")
    online_retail.run(con, tmp_path, settings)
    assert rows(con, "SELECT country FROM users WHERE user_id = '12345'") == [("Germany",)]
    assert rows(con, "SELECT count(*) FROM orders WHERE user_id = '12345'") == [(0,)]


@pytest.mark.parametrize("description, category", [
    ("WHITE HANGING HEART T-LIGHT HOLDER", "lighting"),
    ("JUMBO BAG RED RETROSPOT", "bags"),
    ("SET OF 3 CAKE TINS PANTRY DESIGN", "kitchen & dining"),
    ("PAPER CHAIN KIT 50'S CHRISTMAS", "christmas"),
    ("ASSORTED COLOUR BIRD ORNAMENT", "garden & outdoor"),
    ("SMALL CHINESE STYLE SCISSOR", "other"),
])
def test_online_retail_category_keywords(description, category):
    sql = category_sql("$title", online_retail.CATEGORY_KEYWORDS)
    assert duckdb.execute(f"SELECT {sql}", {"title": description}).fetchone()[0] == category


def test_sessions_split_after_thirty_quiet_minutes():
    events = pd.DataFrame({
        "user_id": ["a", "a", "b", "a", "a"],
        "ts": pd.to_datetime(["2017-11-25 10:00", "2017-11-25 10:30", "2017-11-25 10:05",
                              "2017-11-25 11:01", "2017-11-25 10:20"]),
    })
    assert sessionize(events).tolist() == ["a-1", "a-1", "b-1", "a-2", "a-1"]


def test_taobao_maps_behaviours_and_drops_out_of_window_events(tmp_path, con, settings):
    lines = [
        "user_id,item_id,category_id,behavior_type,timestamp",
        "1,10,100,pv,1511544070", "1,10,100,cart,1511544100", "1,11,101,buy,1511544200",
        "2,12,102,fav,1505117799",  # 2017-09-11: outside the documented window
        "3,12,102,pv,1512316763",  # 2017-12-03 23:59:23 in China, the last event of the data
    ]
    write_gz(tmp_path / taobao.FILE, "\n".join(lines) + "\n")
    report = taobao.run(con, tmp_path, settings)
    assert report.dropped == {
        "timestamp outside 2017-11-25..2017-12-03 China time (dropped)": 1}
    assert rows(con, "SELECT user_id, product_id, event_type, session_id FROM events ORDER BY ts"
                ) == [("1", "10", "view", "1-1"), ("1", "10", "cart", "1-1"),
                      ("1", "11", "purchase", "1-1"), ("3", "12", "view", "3-1")]
    assert rows(con, "SELECT min(ts)::VARCHAR FROM events") == [("2017-11-25 01:21:10",)]
    assert rows(con, "SELECT count(*) FROM users") == [(3,)]
    assert rows(con, "SELECT count(*) FROM products") == [(3,)]


def test_hillstrom_names_users_and_maps_arms(tmp_path, con, settings):
    lines = [
        ("recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,"
         "conversion,spend"),
        "10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0",
        "6,3) $200 - $350,329.08,1,1,Rural,1,Web,No E-Mail,1,1,29.99",
    ]
    write_gz(tmp_path / hillstrom.FILE, "\n".join(lines))
    hillstrom.run(con, tmp_path, settings)
    assert rows(con, "SELECT user_id, arm, treated, visit, conversion, spend "
                     "FROM campaign_assignments ORDER BY 1") == [
        ("h00001", "womens_email", True, False, False, 0.0),
        ("h00002", "no_email", False, True, True, 29.99)]
    covariates = json.loads(rows(con, "SELECT covariates FROM campaign_assignments "
                                      "WHERE user_id = 'h00002'")[0][0])
    assert covariates["history"] == 329.08 and covariates["zip_code"] == "Rural"


def tiny_tau(folder: Path) -> dict:
    """A one-user, two-order tau-bench folder; returns the records written."""
    address = {"address1": "1 Main St", "address2": "Apt 2", "city": "Austin", "country": "USA",
               "state": "TX", "zip": "78701"}
    item = {"name": "Mug", "product_id": "p1", "item_id": "i1", "price": 9.5,
            "options": {"color": "red"}}
    orders = {
        "#W1": {"order_id": "#W1", "user_id": "ann_lee_1", "address": address, "items": [item],
                "fulfillments": [{"tracking_id": ["t1"], "item_ids": ["i1"]}],
                "status": "return requested",
                "payment_history": [{"transaction_type": "payment", "amount": 9.5,
                                     "payment_method_id": "gift_card_1"}],
                "return_items": ["i1"], "return_payment_method_id": "gift_card_1"},
        "#W0": {"order_id": "#W0", "user_id": "ann_lee_1", "address": address, "items": [item],
                "fulfillments": [], "status": "cancelled", "cancel_reason": "no longer needed",
                "payment_history": []},
    }
    users = {"ann_lee_1": {
        "name": {"first_name": "Ann", "last_name": "Lee"}, "address": address,
        "email": "ann@example.com", "orders": ["#W1", "#W0"],
        "payment_methods": {"gift_card_1": {"source": "gift_card", "balance": 12.0,
                                            "id": "gift_card_1"}}}}
    products = {"p1": {"name": "Mug", "product_id": "p1", "variants": {
        "i1": {"item_id": "i1", "options": {"color": "red"}, "available": True, "price": 9.5}}}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.json").write_text(json.dumps(users))
    write_gz(folder / "orders.json.gz", json.dumps(orders))
    (folder / "products.json").write_text(json.dumps(products))
    (folder / "policy_wiki.md").write_text("# Policy\n\nBe kind.\n")
    (folder / "rules.json").write_text(json.dumps(["Confirm first.", "One tool at a time."]))
    return {"users": users, "orders": orders, "products": products}


def test_tau_round_trips_cancel_reasons_and_pending_requests(tmp_path, con, settings):
    source = tiny_tau(tmp_path / "tau")
    report = tau_bench_retail.run(con, tmp_path / "tau", settings)
    assert report.rows["documents"] == 2
    assert get_user_record(con, "ann_lee_1") == source["users"]["ann_lee_1"]
    for order_id, record in source["orders"].items():
        assert get_order_record(con, order_id) == record
    assert get_product_record(con, "p1") == source["products"]["p1"]
    assert rows(con, "SELECT text FROM documents WHERE doc_id = 'tau/rules'") == [
        ("- Confirm first.\n- One tool at a time.",)]


def test_tau_user_order_list_must_match_the_orders_file(tmp_path, con, settings):
    tiny_tau(tmp_path / "tau")
    users = json.loads((tmp_path / "tau" / "users.json").read_text())
    users["ann_lee_1"]["orders"] = ["#W0", "#W1"]
    (tmp_path / "tau" / "users.json").write_text(json.dumps(users))
    with pytest.raises(DataFileError, match=r"user ann_lee_1 lists orders \['#W0', '#W1'\], but "
                                            r"the orders file has \['#W1', '#W0'\]"):
        tau_bench_retail.run(con, tmp_path / "tau", settings)
