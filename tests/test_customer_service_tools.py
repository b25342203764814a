"""Customer-service tools: tau-bench's public schema, scope checks per role, safe arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge import warehouse
from knowledge.tau_records import get_order_record, get_user_record
from tests.shops import private_copy
from tools import customer_service as cs
from tools.registry import ToolContext, ToolError, get_tool, tools_for

CS_TOOLS = ["calculate", "cancel_pending_order", "exchange_delivered_order_items",
            "find_user_id_by_email", "find_user_id_by_name_zip", "get_order_details",
            "get_product_details", "get_user_details", "list_all_product_types",
            "modify_pending_order_address", "modify_pending_order_items",
            "modify_pending_order_payment", "modify_user_address", "return_delivered_order_items",
            "think", "transfer_to_human_agents"]
WRITES = {"cancel_pending_order", "exchange_delivered_order_items", "modify_pending_order_address",
          "modify_pending_order_items", "modify_pending_order_payment", "modify_user_address",
          "return_delivered_order_items"}


def test_names_and_arguments_match_tau_bench_tools_json(shared_data: Path):
    reference = json.loads((shared_data / "tau_bench_retail" / "tools.json").read_text())
    assert sorted(t["function"]["name"] for t in reference) == CS_TOOLS
    for ref in reference:
        ours = get_tool(ref["function"]["name"]).openai_schema()["function"]["parameters"]
        want = ref["function"]["parameters"]
        assert set(ours.get("properties", {})) == set(want["properties"]), ref["function"]["name"]
        assert sorted(ours.get("required", [])) == sorted(want["required"]), ref["function"]["name"]
        for arg, spec in want["properties"].items():
            assert ours["properties"][arg].get("enum") == spec.get("enum")
            assert ours["properties"][arg]["type"] == spec["type"]


def test_write_tools_are_marked_and_customer_only():
    for name in CS_TOOLS:
        spec = get_tool(name)
        assert spec.writes == (name in WRITES), name
    operator_tools = {spec.name for spec in tools_for("operator")}
    assert not operator_tools & WRITES
    assert {"get_order_details", "get_user_details", "find_user_id_by_email"} <= operator_tools
    assert "transfer_to_human_agents" not in operator_tools


@pytest.mark.parametrize("expression,value", [("2 + 2", 4.0), ("(10 - 4) / 4", 1.5),
                                              ("-3 * 2.5", -7.5), ("100 / 3", 33.33)])
def test_calculate_evaluates_arithmetic(expression, value):
    assert cs.safe_arithmetic(expression) == value


@pytest.mark.parametrize("expression,problem", [
    ("__import__('os')", "invalid characters"), ("2 ** 10", "unsupported syntax"),
    ("1 / 0", "division by zero"), ("2 +", "not a valid arithmetic"), ("9" * 600, "too long")])
def test_calculate_refuses_anything_but_arithmetic(expression, problem):
    with pytest.raises(ToolError, match=problem):
        cs.safe_arithmetic(expression)


def _customer(settings, customer_id=None) -> ToolContext:
    return ToolContext(settings, role="customer", customer_id=customer_id)


def _two_customers(settings) -> tuple[dict, dict]:
    """Two users, each with at least one pending order."""
    con = warehouse.connect(settings.warehouse)
    rows = con.execute("SELECT user_id, min(order_id) FROM orders WHERE status = 'pending' "
                       "GROUP BY user_id ORDER BY user_id LIMIT 2").fetchall()
    users = [get_user_record(con, uid) | {"user_id": uid, "pending": oid} for uid, oid in rows]
    con.close()
    return users[0], users[1]


def test_lookups_need_authentication_first(cs_shop):
    a, _ = _two_customers(cs_shop)
    with pytest.raises(ToolError, match="not authenticated"):
        get_tool("get_order_details").invoke(_customer(cs_shop), {"order_id": a["pending"]})


def test_find_by_email_signs_the_conversation_in_once(cs_shop):
    a, b = _two_customers(cs_shop)
    ctx = _customer(cs_shop)
    assert get_tool("find_user_id_by_email").invoke(ctx, {"email": a["email"].upper()}) == {
        "user_id": a["user_id"]}
    assert ctx.customer_id == a["user_id"]
    with pytest.raises(ToolError, match="already signed in as another customer"):
        get_tool("find_user_id_by_name_zip").invoke(ctx, {
            "first_name": b["name"]["first_name"], "last_name": b["name"]["last_name"],
            "zip": b["address"]["zip"]})
    assert ctx.customer_id == a["user_id"]


def test_customer_cannot_read_another_customers_order_or_profile(cs_shop):
    a, b = _two_customers(cs_shop)
    ctx = _customer(cs_shop, a["user_id"])
    assert get_tool("get_order_details").invoke(ctx, {"order_id": a["pending"]})["user_id"] == a[
        "user_id"]
    with pytest.raises(ToolError, match="not found among the signed-in customer's orders"):
        get_tool("get_order_details").invoke(ctx, {"order_id": b["pending"]})
    with pytest.raises(ToolError, match="not found for the signed-in customer"):
        get_tool("get_user_details").invoke(ctx, {"user_id": b["user_id"]})


def test_customer_cannot_cancel_another_customers_order(cs_shop, tmp_path):
    shop = private_copy(cs_shop, tmp_path)
    a, b = _two_customers(shop)
    with pytest.raises(ToolError, match="not found"):
        get_tool("cancel_pending_order").invoke(_customer(shop, a["user_id"]), {
            "order_id": b["pending"], "reason": "no longer needed"})
    con = warehouse.connect(shop.warehouse)
    assert get_order_record(con, b["pending"])["status"] == "pending"
    con.close()
    own = get_tool("cancel_pending_order").invoke(_customer(shop, a["user_id"]), {
        "order_id": a["pending"], "reason": "no longer needed"})
    assert own["headline"].startswith(f"Order {a['pending']}, status cancelled: ")


def test_a_change_refused_by_the_order_status_names_what_that_status_allows(cs_shop, tmp_path):
    shop = private_copy(cs_shop, tmp_path)
    con = warehouse.connect(shop.warehouse)
    user_id, order_id = con.execute("SELECT user_id, min(order_id) FROM orders WHERE status = "
                                    "'delivered' GROUP BY user_id ORDER BY user_id").fetchone()
    item = get_order_record(con, order_id)["items"][0]["item_id"]
    con.close()
    with pytest.raises(ToolError, match="non-pending order cannot be modified .*'delivered'.*"
                                        "exchange_delivered_order_items"):
        get_tool("modify_pending_order_items").invoke(_customer(shop, user_id), {
            "order_id": order_id, "item_ids": [item], "new_item_ids": [item],
            "payment_method_id": "credit_card_0000000"})
    con = warehouse.connect(shop.warehouse)
    assert get_order_record(con, order_id)["status"] == "delivered"
    con.close()


def test_operator_reads_any_order_but_cannot_write(cs_shop):
    a, _ = _two_customers(cs_shop)
    ctx = ToolContext(cs_shop, role="operator")
    order = get_tool("get_order_details").invoke(ctx, {"order_id": a["pending"]})
    assert order["status"] == "pending"
    assert order["headline"].startswith(f"Order {a['pending']}, status pending: ")
    assert order["items"][0]["name"] in order["headline"]
    with pytest.raises(ToolError, match="not available to the operator role"):
        get_tool("cancel_pending_order").invoke(ctx, {"order_id": a["pending"],
                                                     "reason": "no longer needed"})


def test_bad_arguments_get_clear_errors(cs_shop):
    a, _ = _two_customers(cs_shop)
    ctx = _customer(cs_shop, a["user_id"])
    with pytest.raises(ToolError, match="reason"):
        get_tool("cancel_pending_order").invoke(ctx, {"order_id": a["pending"], "reason": "meh"})
    # "W1234567" is read as "#W1234567" (tools/normalise.py); bare digits are not guessed at
    assert get_tool("get_order_details").invoke(ctx, {"order_id": a["pending"].lstrip("#")})[
        "order_id"] == a["pending"]
    with pytest.raises(ToolError, match="order ids start with '#'"):
        get_tool("get_order_details").invoke(ctx, {"order_id": a["pending"].lstrip("#W")})
    with pytest.raises(ToolError, match="product '1' not found"):
        get_tool("get_product_details").invoke(ctx, {"product_id": "1"})
