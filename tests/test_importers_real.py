"""Importing each real dataset reproduces the counts its SOURCE.md gives.

Each source is imported once per module (into tmp) and the tests only read the result.
Skipped when ../shared/datasets is not beside the repository.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from knowledge.cli import import_source
from knowledge.importers import ImportReport
from knowledge.importers.base import read_json
from knowledge.importers.line_rules import GUEST
from knowledge.settings import Settings
from knowledge.tau_records import get_order_record, get_product_record, get_user_record

pytestmark = pytest.mark.realdata
SHARED_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets").resolve()


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """`imported(source)` -> (read-only connection, report); each source imported once."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/datasets is not beside the repository")
    done: dict[str, tuple[duckdb.DuckDBPyConnection, ImportReport]] = {}

    def get(source: str) -> tuple[duckdb.DuckDBPyConnection, ImportReport]:
        if source not in done:
            settings = Settings(data_dir=SHARED_DATA, warehouse_dir=tmp_path_factory.mktemp(source))
            path, report = import_source(settings, source)
            done[source] = duckdb.connect(str(path), read_only=True), report
        return done[source]

    yield get
    for con, _ in done.values():
        con.close()


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return con.execute(sql).fetchone()[0]


# --- Online Retail ---------------------------------------------------------------------------

def test_online_retail_raw_counts_match_source_md(imported):
    _, report = imported("online_retail")
    assert report.raw == {
        "lines": 541_909, "invoices": 25_900, "stock_codes": 4_070, "customers": 4_372,
        "countries": 38, "lines_without_customer": 135_080, "cancellation_lines": 9_288,
        "negative_quantity_lines": 10_624,
    }
    assert report.dropped[GUEST] == 135_080


def test_online_retail_every_raw_line_is_kept_or_counted_as_dropped(imported):
    con, report = imported("online_retail")
    assert sum(report.dropped.values()) + count(con, "SELECT count(*) FROM order_items") == 541_909
    assert report.counts["order_items"]["rejected"] == 0
    cancelled_lines = count(con, "SELECT count(*) FROM order_items JOIN orders USING (order_id) "
                                 "WHERE status = 'cancelled'")
    assert cancelled_lines == count(con, "SELECT count(*) FROM order_items "
                                         "WHERE starts_with(order_id, 'C')")
    assert count(con, "SELECT count(*) FROM events") == (
        count(con, "SELECT count(*) FROM order_items") - cancelled_lines)


def test_online_retail_users_orders_and_time_range(imported):
    con, _ = imported("online_retail")
    assert count(con, "SELECT count(*) FROM users") == 4_372
    assert count(con, "SELECT count(DISTINCT country) FROM users") <= 38
    assert con.execute("SELECT min(ts), max(ts) FROM events").fetchone() == (
        datetime(2010, 12, 1, 8, 26), datetime(2011, 12, 9, 12, 50))
    assert {r[0] for r in con.execute("SELECT DISTINCT status FROM orders").fetchall()} == {
        "completed", "cancelled"}
    assert count(con, "SELECT count(*) FROM orders WHERE order_id LIKE 'C%' "
                      "AND status <> 'cancelled'") == 0


def test_online_retail_kept_lines_are_clean(imported):
    con, _ = imported("online_retail")
    assert count(con, "SELECT count(*) FROM order_items WHERE quantity <= 0 OR unit_price <= 0") == 0
    assert count(con, "SELECT count(*) FROM orders WHERE user_id IS NULL") == 0
    assert count(con, "SELECT count(*) FROM order_items "
                      "WHERE product_id IN ('POST', 'DOT', 'M', 'D', 'BANK CHARGES')") == 0
    assert count(con, "SELECT count(*) FROM events e ANTI JOIN products p USING (product_id)") == 0
    assert count(con, "SELECT count(*) FROM events WHERE session_id IS NULL "
                      "OR quantity IS NULL OR price IS NULL OR event_type <> 'purchase'") == 0
    mismatched = count(con, """
        SELECT count(*) FROM orders o JOIN (
            SELECT order_id, sum(quantity * unit_price) AS s FROM order_items GROUP BY 1
        ) i USING (order_id) WHERE abs(o.total - i.s) > 0.01""")
    assert mismatched == 0


def test_online_retail_products_have_title_category_and_median_price(imported):
    con, _ = imported("online_retail")
    title, category, price, description = con.execute(
        "SELECT title, category, price, description FROM products WHERE product_id = '85123A'"
    ).fetchone()
    assert title == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert category == "lighting"
    assert 2.0 < price < 3.5
    assert description.startswith("White hanging heart t-light holder.")
    assert count(con, "SELECT count(*) FROM products WHERE category IS NULL OR title IS NULL") == 0


# --- Hillstrom -------------------------------------------------------------------------------

def test_hillstrom_arms_and_outcome_means_match_source_md(imported):
    con, report = imported("hillstrom")
    assert report.raw == {"customers": 64_000, "arm_no_email": 21_306,
                          "arm_mens_email": 21_307, "arm_womens_email": 21_387}
    assert count(con, "SELECT count(*) FROM users") == 64_000
    means = {arm: (round(v, 4), round(c, 5), round(s, 4)) for arm, v, c, s in con.execute(
        "SELECT arm, avg(visit::INT), avg(conversion::INT), avg(spend) "
        "FROM campaign_assignments GROUP BY arm").fetchall()}
    assert means == {"mens_email": (0.1828, 0.01253, 1.4226),
                     "womens_email": (0.1514, 0.00884, 1.0772),
                     "no_email": (0.1062, 0.00573, 0.6528)}


def test_hillstrom_campaign_is_randomised_with_control_first_and_covariates(imported):
    con, _ = imported("hillstrom")
    channel, randomized, arms = con.execute(
        "SELECT channel, randomized, arms FROM campaigns").fetchone()
    assert (channel, randomized, json.loads(arms)) == (
        "email", True, ["no_email", "mens_email", "womens_email"])
    first = con.execute("SELECT user_id, arm, treated, covariates FROM campaign_assignments "
                        "WHERE user_id = 'h00001'").fetchone()
    assert first[:3] == ("h00001", "womens_email", True)
    assert json.loads(first[3]) == {
        "recency": 10, "history_segment": "2) $100 - $200", "history": 142.44, "mens": 1,
        "womens": 0, "zip_code": "Surburban", "newbie": 0, "channel": "Phone"}
    assert count(con, "SELECT count(*) FROM campaign_assignments "
                      "WHERE treated <> (arm <> 'no_email')") == 0


# --- tau-bench retail ------------------------------------------------------------------------

def _tau_json(name: str) -> dict:
    return read_json(SHARED_DATA / "tau_bench_retail" / name)


def test_tau_counts_match_source_md(imported):
    con, report = imported("tau_bench_retail")
    assert report.raw == {
        "users": 500, "orders": 1_000, "products": 50, "variants": 591, "rules": 7,
        "orders_pending": 423, "orders_processed": 102, "orders_delivered": 373,
        "orders_cancelled": 102}
    assert {t: count(con, f"SELECT count(*) FROM {t}") for t in (
        "users", "orders", "products", "product_variants")} == {
        "users": 500, "orders": 1_000, "products": 50, "product_variants": 591}


@pytest.mark.parametrize("file, rebuild", [
    ("users.json", get_user_record), ("orders.json.gz", get_order_record),
    ("products.json", get_product_record),
], ids=["users", "orders", "products"])
def test_tau_every_record_round_trips(imported, file, rebuild):
    con, _ = imported("tau_bench_retail")
    source = _tau_json(file)
    assert {key: rebuild(con, key) for key in source} == source


def test_tau_unknown_ids_give_none(imported):
    con, _ = imported("tau_bench_retail")
    assert get_user_record(con, "nobody_0000") is None
    assert get_order_record(con, "#W0000000") is None
    assert get_product_record(con, "0") is None


def test_tau_policy_and_rules_are_documents(imported):
    con, _ = imported("tau_bench_retail")
    docs = dict(con.execute("SELECT doc_id, text FROM documents "
                            "WHERE source = 'tau-bench retail policy'").fetchall())
    assert set(docs) == {"tau/policy", "tau/rules"}
    assert docs["tau/policy"] == (SHARED_DATA / "tau_bench_retail" / "policy_wiki.md").read_text()
    assert docs["tau/rules"].count("\n- ") == 6


# --- Taobao ----------------------------------------------------------------------------------

def test_taobao_counts_match_source_md(imported):
    con, report = imported("taobao")
    assert report.raw == {
        "events": 84_287, "users": 814, "items": 55_233, "categories": 2_911,
        "events_pv": 75_693, "events_cart": 4_494, "events_fav": 2_351, "events_buy": 1_749,
        "events_outside_window_read_as_utc": 1_390}
    # In the data's own time zone (UTC+8) only the clock outliers fall outside the window.
    assert report.dropped == {
        "timestamp outside 2017-11-25..2017-12-03 China time (dropped)": 35}
    assert count(con, "SELECT count(*) FROM events") == 84_287 - 35
    assert count(con, "SELECT count(*) FROM users") == 814
    assert count(con, "SELECT count(*) FROM products") == 55_233
    assert con.execute("SELECT min(ts) >= '2017-11-25', max(ts) FROM events").fetchone() == (
        True, datetime(2017, 12, 3, 23, 59, 23))


def test_taobao_event_types_and_titles(imported):
    con, _ = imported("taobao")
    assert {r[0] for r in con.execute("SELECT DISTINCT event_type FROM events").fetchall()} == {
        "view", "cart", "fav", "purchase"}
    assert con.execute("SELECT title, category, price FROM products WHERE product_id = '2268318'"
                       ).fetchone() == ("item 2268318 (category 2520377)", "2520377", None)
    assert count(con, "SELECT count(*) FROM events e ANTI JOIN products p USING (product_id)") == 0


def test_taobao_sessions_split_at_30_minute_gaps(imported):
    con, _ = imported("taobao")
    # Inside a session no gap exceeds 30 minutes; between a user's sessions every gap does.
    gaps = con.execute("""
        SELECT max(gap) FILTER (WHERE same), min(gap) FILTER (WHERE NOT same) FROM (
            SELECT ts - lag(ts) OVER w AS gap, session_id = lag(session_id) OVER w AS same
            FROM events WINDOW w AS (PARTITION BY user_id ORDER BY ts, session_id))
        WHERE gap IS NOT NULL""").fetchone()
    assert gaps[0] <= timedelta(minutes=30) < gaps[1]
