"""The filter compiler: every key, combinations, bad input and injection attempts, no database."""

from __future__ import annotations

import duckdb
import pytest
from pydantic import ValidationError

from knowledge.segment_sql import (
    GROUPS,
    Compiled,
    NotASelectError,
    SegmentFilters,
    compile_where,
    group_query,
    run_select,
)

EVERY_KEY = {
    "country": ["United Kingdom", "France"], "min_orders": 2, "max_orders": 9, "min_spend": 10.5,
    "max_spend": 900, "inactive_days_min": 60, "active_within_days": 365,
    "purchased_category": "Toys", "min_purchase_probability": 0.2, "max_purchase_probability": 0.8,
}


@pytest.mark.parametrize(("key", "value", "clause", "params"), [
    ("country", "France", "f.country IN (?)", ["France"]),
    ("country", ["France", "Spain"], "f.country IN (?, ?)", ["France", "Spain"]),
    ("min_orders", 3, "f.orders >= ?", [3]),
    ("max_orders", 3, "f.orders <= ?", [3]),
    ("min_spend", 500, "f.spend >= ?", [500.0]),
    ("max_spend", 20.5, "f.spend <= ?", [20.5]),
    ("inactive_days_min", 60, "f.days_since_purchase >= ?", [60]),
    ("active_within_days", 7, "f.days_since_seen <= ?", [7]),
    ("purchased_category", "garden", "list_contains(f.categories, ?)", ["garden"]),
    ("min_purchase_probability", 0.5, "f.probability >= ?", [0.5]),
    ("max_purchase_probability", 0.5, "f.probability <= ?", [0.5]),
])
def test_each_filter_key_compiles_to_one_parameterised_clause(key, value, clause, params):
    compiled = compile_where(SegmentFilters(**{key: value}))
    assert clause in compiled.sql
    assert compiled.params == params


def test_every_key_together_is_anded_with_params_in_order():
    compiled = compile_where(SegmentFilters(**EVERY_KEY))
    assert compiled.sql.count(" AND ") == 9  # 10 clauses (two countries share one IN)
    assert compiled.sql.count("?") == len(compiled.params) == 11
    assert compiled.sql.startswith("FROM user_facts f\nWHERE ")


def test_no_filters_selects_everyone():
    compiled = compile_where(SegmentFilters())
    assert compiled.sql == "FROM user_facts f" and compiled.params == []


@pytest.mark.parametrize("evil", [
    "x' OR '1'='1", "United Kingdom'); DROP TABLE users; --", "\" OR 1=1 --", "$now", "?') OR TRUE --",
])
def test_injection_attempts_travel_only_as_parameters(evil):
    compiled = compile_where(SegmentFilters(country=evil, purchased_category=evil))
    assert evil.lower() not in compiled.sql.lower()
    assert compiled.params == [evil, evil]
    con = duckdb.connect()
    con.execute("CREATE TABLE user_facts (user_id VARCHAR, country VARCHAR, categories VARCHAR[])")
    con.execute("INSERT INTO user_facts VALUES ('u1', 'United Kingdom', ['toys'])")
    query = Compiled(f"SELECT f.user_id {compiled.sql}", compiled.params)
    assert run_select(con, query).fetchall() == []
    assert con.execute("SELECT count(*) FROM user_facts").fetchall()[0][0] == 1


def test_unknown_key_names_the_key_and_suggests_the_right_one():
    with pytest.raises(ValidationError) as err:
        SegmentFilters.model_validate({"min_spending": 10, "region": "EU"})
    message = str(err.value)
    assert "'min_spending' (did you mean 'min_spend'?)" in message
    assert "'region'" in message and "allowed keys: country" in message


@pytest.mark.parametrize(("filters", "problem"), [
    ({"min_orders": "many"}, "valid integer"),
    ({"min_orders": -1}, "greater than or equal to 0"),
    ({"min_orders": 2.5}, "integer"),
    ({"min_spend": True}, "boolean"),
    ({"max_spend": "lots"}, "valid number"),
    ({"inactive_days_min": 100_000}, "less than or equal to 36500"),
    ({"min_purchase_probability": 1.5}, "less than or equal to 1"),
    ({"country": ""}, "at least 1 character"),
    ({"country": 44}, "valid string"),
    ({"purchased_category": ["a", "b"]}, "valid string"),
    ({"min_orders": 5, "max_orders": 2}, "min_orders (5) is greater than max_orders (2)"),
    ({"min_purchase_probability": 0.9, "max_purchase_probability": 0.1}, "no one can match"),
])
def test_bad_values_are_refused_with_a_clear_message(filters, problem):
    with pytest.raises(ValidationError) as err:
        SegmentFilters.model_validate(filters)
    assert problem in str(err.value)


def test_filters_may_arrive_as_a_json_string():
    assert SegmentFilters.model_validate('{"min_orders": 2}').min_orders == 2
    with pytest.raises(ValidationError, match="JSON object"):
        SegmentFilters.model_validate("{min_orders: 2")


def test_given_keeps_only_the_keys_set():
    assert SegmentFilters(min_spend=5).given() == {"min_spend": 5.0}


def test_group_by_outside_the_whitelist_is_refused():
    base = compile_where(SegmentFilters())
    with pytest.raises(ValueError, match="group_by must be one of"):
        group_query(base, "user_id; DROP TABLE users")
    assert set(GROUPS) == {"country", "orders", "spend", "recency", "purchase_probability",
                           "category", "first_order_month"}


@pytest.mark.parametrize("sql", [
    "DELETE FROM user_facts",
    "SELECT 1; DROP TABLE user_facts",
    "COPY (SELECT 1) TO 'x.csv'",
    "CREATE TABLE t AS SELECT 1",
    "ATTACH 'other.duckdb'",
    "",
])
def test_run_select_refuses_anything_but_one_select(sql):
    con = duckdb.connect()
    con.execute("CREATE TABLE user_facts (user_id VARCHAR)")
    with pytest.raises(NotASelectError, match="read-only"):
        run_select(con, Compiled(sql, []))
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall()[0][0] == 1


def test_filter_bounds_reach_the_models_json_schema():
    schema = SegmentFilters.model_json_schema()["properties"]
    assert {"maximum": 1, "minimum": 0, "type": "number"} in schema["min_purchase_probability"]["anyOf"]
    assert "'ge'" not in str(schema) and "'le'" not in str(schema)
