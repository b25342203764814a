"""Segment queries on a hand-built warehouse whose answers are known, saved segments, and the
read-only guarantees of query_segment."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from knowledge import warehouse
from knowledge.segment_sql import Compiled, NotASelectError, SegmentFilters
from knowledge.segments import SegmentError, engine_for, list_segments, load_segment, save_segment
from knowledge.settings import Settings
from tools.registry import ToolContext, ToolError, get_tool
from tools.segments import resolve_segment

# user: (country, [(order day, total, category, status)], last non-purchase event day)
USERS = {
    "u1": ("United Kingdom", [("2026-05-01", 100, "toys", "completed"),
                              ("2026-06-01", 200, "toys", "completed"),
                              ("2026-08-01", 300, "toys", "completed")], None),
    "u2": ("United Kingdom", [("2026-10-30", 50, "books", "completed")], "2026-10-31 12:00"),
    "u3": ("France", [], "2026-10-20"),
    "u4": ("Germany", [(f"2026-{m:02d}-01", 100, "toys" if m % 2 else "garden", "completed")
                       for m in range(1, 11)] + [("2026-09-15", 999, "garden", "cancelled")], None),
    "u5": ("USA", [("2025-12-01", 20, "books", "completed")], None),
    "u6": (None, [], None),
}


def build_tiny_warehouse(path: Path) -> Path:
    """Six users; 'now' is 2026-10-31 12:00 (u2's last view)."""
    users, orders, events = [], [], []
    for user, (country, user_orders, seen) in USERS.items():
        users.append({"user_id": user, "country": country})
        for n, (day, total, category, status) in enumerate(user_orders):
            order_id = f"{user}-o{n}"
            orders.append({"order_id": order_id, "user_id": user, "ordered_at": pd.Timestamp(day),
                           "status": status, "total": float(total)})
            if status == "completed":
                events.append({"user_id": user, "product_id": category, "category": category,
                               "event_type": "purchase", "ts": pd.Timestamp(day)})
        if seen:
            events.append({"user_id": user, "product_id": "p", "category": "toys",
                           "event_type": "view", "ts": pd.Timestamp(seen)})
    with warehouse.atomic_update(path) as con:
        for table, rows in [("users", users), ("orders", orders), ("events", events)]:
            frame = pd.DataFrame(rows)
            con.register("_rows", frame)
            con.execute(f"INSERT INTO {table} ({', '.join(frame.columns)}) SELECT * FROM _rows")
            con.unregister("_rows")
    return path


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_warehouse(tmp_path_factory.mktemp("tiny") / "tiny.duckdb")


@pytest.fixture
def tiny(tiny_warehouse: Path, tmp_path: Path) -> Settings:
    """Settings on a private copy of the tiny warehouse (tests may save segments into it)."""
    path = tmp_path / "shop.duckdb"
    shutil.copyfile(tiny_warehouse, path)
    return Settings(warehouse_path=path, artifacts_dir=tmp_path / "artifacts")


def members(settings: Settings, **filters) -> set[str]:
    return set(resolve_segment(settings, SegmentFilters(**filters)))


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, {"u1", "u2", "u3", "u4", "u5", "u6"}),
    ({"country": "United Kingdom"}, {"u1", "u2"}),
    ({"country": "uk"}, {"u1", "u2"}),
    ({"country": ["France", "GERMANY"]}, {"u3", "u4"}),
    ({"country": "us"}, {"u5"}),
    ({"min_orders": 2}, {"u1", "u4"}),
    ({"max_orders": 0}, {"u3", "u6"}),
    ({"min_spend": 500}, {"u1", "u4"}),  # u4's cancelled 999 does not count: spend 1000
    ({"max_spend": 60}, {"u2", "u3", "u5", "u6"}),
    ({"inactive_days_min": 60}, {"u1", "u5"}),  # lapsed buyers only: never-buyers are not in
    ({"active_within_days": 15}, {"u2", "u3"}),
    ({"purchased_category": "Toys"}, {"u1", "u4"}),
    ({"purchased_category": "books", "max_spend": 40}, {"u5"}),
    ({"country": "UK", "min_spend": 500, "inactive_days_min": 60}, {"u1"}),
    ({"min_orders": 1, "active_within_days": 31}, {"u2", "u4"}),
])
def test_filters_select_exactly_the_expected_users(tiny, filters, expected):
    assert members(tiny, **filters) == expected


def test_now_is_the_latest_event_in_the_warehouse(tiny):
    engine = engine_for(tiny.warehouse)
    assert engine.now == datetime(2026, 10, 31, 12, 0)
    facts = engine.con.execute("SELECT user_id, orders, spend, days_since_purchase FROM user_facts "
                               "ORDER BY user_id").fetchall()
    assert facts[0] == ("u1", 3, 600.0, 91) and facts[3] == ("u4", 10, 1000.0, 30)


def test_unknown_country_or_category_lists_the_known_ones(tiny):
    with pytest.raises(ToolError, match="known countries: France, Germany, USA, United Kingdom"):
        members(tiny, country="Narnia")
    with pytest.raises(ToolError, match="known: books, garden, toys"):
        members(tiny, purchased_category="x' OR '1'='1")


def test_propensity_filters_need_scores_and_use_them(tiny):
    with pytest.raises(ToolError, match="shopmind train behavior"):
        members(tiny, min_purchase_probability=0.5)
    engine = engine_for(tiny.warehouse)
    engine.set_propensity("given", pd.DataFrame({"user_id": ["u1", "u2", "u3"],
                                                 "probability": [0.9, 0.4, 0.1]}))
    filters = SegmentFilters(min_purchase_probability=0.3, max_purchase_probability=0.95)
    assert engine.members(filters) == ["u1", "u2"]


def call(settings: Settings, role: str = "operator", **arguments) -> dict:
    return get_tool("query_segment").invoke(ToolContext(settings, role=role), arguments)


def test_query_segment_tool_returns_numbers_sample_groups_chart_and_sql(tiny):
    result = call(tiny, question="UK customers who spent over 500 and lapsed for 60 days?",
                  filters={"country": "UK", "min_spend": 500, "inactive_days_min": 60},
                  group_by="country", limit=5)
    json.dumps(result)  # everything the model sees is plain JSON
    assert result["count"] == 1 and result["share_of_users"] == round(1 / 6, 4)
    assert result["filters"]["country"] == "United Kingdom"
    assert result["summary"]["spend_total"] == 600 and result["summary"]["recency_days_mean"] == 91
    assert result["sample"] == [{"user_id": "u1", "country": "United Kingdom", "orders": 3,
                                 "spend": 600.0, "days_since_purchase": 91,
                                 "purchase_probability": None}]
    assert result["groups"]["rows"][0]["group"] == "United Kingdom"
    assert result["chart"]["x"] == ["United Kingdom"] and result["chart"]["y"] == [1]
    assert Path(result["chart"]["png"]).read_bytes()[:4] == b"\x89PNG"
    assert result["sql"]["summary"]["params"] == ["United Kingdom", 500.0, 60]
    assert "shopmind train behavior" in result["notes"][0]
    assert result["headline"].startswith(
        "1 customers match country United Kingdom, min spend 500.0, inactive days min 60 "
        "(16.7% of all users). They spent 600.00 in total")


@pytest.mark.parametrize("group_by", ["orders", "spend", "recency", "category", "first_order_month"])
def test_every_group_by_counts_the_segment(tiny, group_by):
    result = call(tiny, question="breakdown", group_by=group_by)
    total = sum(result["chart"]["y"])
    # category counts a user once per category bought (u4 bought two), never-buyers have none
    assert total == (5 if group_by == "category" else 6)


def test_default_breakdown_is_spend_bands_in_order(tiny):
    rows = call(tiny, question="spend?")["groups"]["rows"]
    assert [r["group"] for r in rows] == ["0-50", "50-100", "500-1000", "1000-5000"]
    assert [r["users"] for r in rows] == [3, 1, 1, 1]


@pytest.mark.parametrize(("arguments", "problem"), [
    ({"question": "x", "group_by": "user_id; DROP TABLE users"}, "group_by"),
    ({"question": "x", "filters": {"spend_over": 5}}, "unknown filter key"),
    ({"question": "x", "limit": 0}, "limit"),
    ({"question": "   "}, "question is empty"),
    ({"filters": {}}, "question"),
])
def test_bad_arguments_come_back_as_tool_errors(tiny, arguments, problem):
    with pytest.raises(ToolError, match=problem):
        call(tiny, **arguments)


def test_customers_cannot_query_segments(tiny):
    with pytest.raises(ToolError, match="not available to the customer role"):
        call(tiny, role="customer", question="everyone")


def test_segment_queries_never_write(tiny):
    before = tiny.warehouse.read_bytes()
    with pytest.raises(ToolError):
        call(tiny, question="x", filters={"country": "UK'; DELETE FROM users; --"})
    engine = engine_for(tiny.warehouse)
    with pytest.raises(NotASelectError):
        engine.run(Compiled("DELETE FROM user_facts", []))
    assert engine.con.execute("SELECT count(*) FROM user_facts").fetchall()[0][0] == 6
    assert tiny.warehouse.read_bytes() == before


def test_a_segment_query_waits_for_a_write_in_progress(tiny, tiny_warehouse):
    """A cancel or an event being written holds DuckDB's write lock: the read waits for it."""
    call(Settings(warehouse_path=tiny_warehouse), question="warm-up: imports, not this file")
    writing = warehouse.open_shared(tiny.warehouse, write=True)  # DuckDB: no reader now
    threading.Timer(0.3, writing.close).start()
    assert call(tiny, question="UK customers?", filters={"country": "UK"})["count"] >= 1


def test_missing_warehouse_is_a_clear_tool_error(tmp_path):
    settings = Settings(warehouse_path=tmp_path / "none.duckdb", artifacts_dir=tmp_path)
    with pytest.raises(ToolError, match="shopmind data import"):
        call(settings, question="anyone?")


def test_saved_segments_round_trip_and_resolve(tiny):
    filters = SegmentFilters(country="UK", min_spend=500)
    saved = save_segment(tiny.warehouse, "big uk spenders", filters, "UK, spent 500+")
    assert saved["filters"] == {"country": "United Kingdom", "min_spend": 500.0}
    assert load_segment(tiny.warehouse, "big uk spenders").given() == saved["filters"]
    assert [s["name"] for s in list_segments(tiny.warehouse)] == ["big uk spenders"]
    assert resolve_segment(tiny, "big uk spenders") == ["u1"]
    assert resolve_segment(tiny, '{"min_orders": 2}') == ["u1", "u4"]
    assert resolve_segment(tiny, {"max_orders": 0}) == ["u3", "u6"]


def test_saving_twice_needs_replace(tiny):
    save_segment(tiny.warehouse, "lapsed", SegmentFilters(inactive_days_min=60))
    with pytest.raises(SegmentError, match="exists already"):
        save_segment(tiny.warehouse, "lapsed", SegmentFilters(inactive_days_min=90))
    save_segment(tiny.warehouse, "lapsed", SegmentFilters(inactive_days_min=300), replace=True)
    assert resolve_segment(tiny, "lapsed") == ["u5"]


def test_saving_checks_the_filters_against_the_warehouse(tiny):
    with pytest.raises(SegmentError, match="no customers in country 'Narnia'"):
        save_segment(tiny.warehouse, "nowhere", SegmentFilters(country="Narnia"))
    assert list_segments(tiny.warehouse) == []


@pytest.mark.parametrize("name", ["", " ", "a;b", "x" * 65, "drop'--"])
def test_bad_segment_names_are_refused(tiny, name):
    with pytest.raises(SegmentError, match="not valid"):
        save_segment(tiny.warehouse, name, SegmentFilters())


def test_unknown_segment_name_lists_the_saved_ones(tiny):
    save_segment(tiny.warehouse, "vip", SegmentFilters(min_spend=900))
    with pytest.raises(ToolError, match="no saved segment named 'vips'; saved segments: vip"):
        resolve_segment(tiny, "vips")
    with pytest.raises(ToolError, match="unknown filter key"):
        resolve_segment(tiny, '{"vip": true}')


def run_cli(settings: Settings, *args: str):
    from typer.testing import CliRunner

    from assistant.cli import app

    overrides = ["--set", f"warehouse_path={settings.warehouse}",
                 "--set", f"artifacts_dir={settings.artifacts_dir}"]
    return CliRunner().invoke(app, [*overrides, "segment", *args])


def test_cli_query_save_and_list(tiny):
    result = run_cli(tiny, "query", "--filters", '{"country": "UK"}', "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["count"] == 2
    result = run_cli(tiny, "save", "uk", "--filters", '{"country": "UK"}', "--description", "UK")
    assert result.exit_code == 0 and "saved segment 'uk'" in result.output
    result = run_cli(tiny, "list")
    assert result.exit_code == 0 and '{"country": "United Kingdom"}' in result.output


@pytest.mark.parametrize(("args", "problem"), [
    (["query", "--filters", '{"min_spend": "lots"}'], "valid number"),
    (["query", "--filters", "{oops"], "JSON object"),
    (["query", "--filters", '{"country": "Narnia"}'], "no customers in country 'Narnia'"),
    (["save", "bad;name", "--filters", "{}"], "not valid"),
])
def test_cli_bad_input_exits_with_a_message(tiny, args, problem):
    result = run_cli(tiny, *args)
    assert result.exit_code == 2
    assert problem in " ".join(result.output.split())


def test_query_segment_answers_for_a_saved_segment(tiny):
    save_segment(tiny.warehouse, "uk", SegmentFilters(country="UK"))
    result = call(tiny, question="how big is the uk segment?", segment="uk")
    assert result["count"] == 2 and result["segment"] == "uk"
    with pytest.raises(ToolError, match="not both"):
        call(tiny, question="x", segment="uk", filters={"min_orders": 1})
    with pytest.raises(ToolError, match="no saved segment named 'eu'"):
        call(tiny, question="x", segment="eu")
    result = run_cli(tiny, "query", "--segment", "uk", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["count"] == 2


def test_an_empty_segment_answers_zero_without_a_chart(tiny):
    result = call(tiny, question="anyone spending a billion?", filters={"min_spend": 1e9})
    assert result["count"] == 0 and result["share_of_users"] == 0
    assert result["sample"] == [] and result["groups"]["rows"] == []
    assert result["summary"]["spend_median"] is None and result["chart"]["png"] is None
    assert result["headline"] == "No customer matches these filters."
