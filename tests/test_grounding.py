"""Decode-time grounding (assistant/backends/grounding.py): identifiers come from the
conversation. The scanner and the allowed sets on hand-written text; the mask on the tiny random
model with the real tokenizer, where only grounding can make a random model write a real id."""

from __future__ import annotations

import json

import pytest

from assistant.backends.grounding import Grounding, _Scan, identifier_values, number_values
from assistant.backends.local import LocalBackend
from assistant.backends.types import ChatRequest
from tests.dialog_samples import TOOLS

SYSTEM = {"role": "system", "content": "Example: order #W0000000, user 12345."}


def test_identifier_values_come_from_user_messages_and_earlier_calls_not_the_system_prompt():
    messages = [
        SYSTEM,
        {"role": "user", "content": "I'm amy.lee@example.com, where is order #W2611340?"},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {
            "name": "find_user_id_by_email", "arguments": '{"email": "amy.lee@example.com"}'}}]},
        {"role": "tool", "content": '"amy_lee_4812"'},
    ]
    values = identifier_values(messages)
    assert values["email"] == {"amy.lee@example.com"}
    assert {"#W2611340", "W2611340", "amy_lee_4812"} <= values["order_id"]
    assert "12345" not in values["user_id"] and "#W0000000" not in values["order_id"]
    assert not any("@" in v for v in values["user_id"])


def test_a_tool_whose_required_identifier_nobody_gave_cannot_be_called():
    grounding = Grounding(TOOLS, [{"role": "user", "content": "What is my order status?"}])
    assert grounding.names == []
    grounding = Grounding(TOOLS, [{"role": "user", "content": "Will customer 16029 buy?"}])
    assert set(grounding.names) == {"get_order_details", "predict_behavior"}
    assert grounding.keys["predict_behavior"] == ["user_id", "event"]  # no quantity stated
    grounding = Grounding(TOOLS, [{"role": "user", "content": "Will 16029 buy in 6 weeks?"}])
    assert grounding.keys["predict_behavior"] == ["user_id", "event", "horizon_days"]


def test_optional_identifier_without_a_value_is_dropped_from_the_allowed_keys():
    tool = {"type": "function", "function": {"name": "recommend", "parameters": {
        "type": "object", "properties": {"user_id": {"type": "string"},
                                         "query": {"type": "string"}}}}}
    grounding = Grounding([tool], [{"role": "user", "content": "something for camping"}])
    assert grounding.names == ["recommend"] and grounding.keys["recommend"] == ["query"]


@pytest.mark.parametrize("text, ok", [
    ('{"name": "predict_behavior", "arguments": {"user_id": "160', True),
    ('{"name": "predict_behavior", "arguments": {"user_id": "16029"}}', True),
    ('{"name": "predict_behavior", "arguments": {"user_id": "16030"', False),  # invented
    ('{"name": "predict_behavior", "arguments": {"user_id": "160"', False),  # a prefix only
    ('{"name": "predict_beh', True),
    ('{"name": "get_user_profile"', False),  # not offered
    ('{"name": "predict_behavior", "arguments": {"event": "churn", "horizon_days": 42}}', False),
    ('{"name": "predict_behavior", "arguments": {"user_id": "16\\"', False),  # escape is text
])
def test_scanner_accepts_grounded_calls_and_rejects_invented_identifiers(text, ok):
    grounding = Grounding(TOOLS, [{"role": "user", "content": "Will customer 16029 buy?"}])
    assert (grounding.feed(_Scan(), text) is not None) is ok


SEGMENT = {"type": "function", "function": {"name": "query_segment", "parameters": {
    "type": "object", "$defs": {"Filters": {"type": "object", "additionalProperties": False,
                                            "properties": {
                                                "country": {"type": "string"},
                                                "min_orders": {"type": "integer"},
                                                "max_spend": {"type": "number"}}}},
    "properties": {"filters": {"anyOf": [{"$ref": "#/$defs/Filters"}, {"type": "null"}]},
                   "limit": {"type": "integer"}}}}}


@pytest.mark.parametrize("ask, text, ok", [
    ("in the next fortnight", '{"name": "predict_behavior", "arguments": {"horizon_days": 14}', True),
    ("in the next fortnight", '{"name": "predict_behavior", "arguments": {"horizon_days": 30}', False),
    ("in the next fortnight", '{"name": "predict_behavior", "arguments": {"horizon_days": 1}', False),
    ("in the next fortnight", '{"name": "predict_behavior", "arguments": {"horizon_days": 1', True),
    ("for six weeks", '{"name": "predict_behavior", "arguments": {"horizon_days": 42.0}', True),
])
def test_numbers_are_quantities_the_user_stated(ask, text, ok):
    grounding = Grounding(TOOLS, [{"role": "user", "content": f"Will customer 16029 buy {ask}?"}])
    assert (grounding.feed(_Scan(), text) is not None) is ok


@pytest.mark.parametrize("text, ok", [
    ('{"name": "query_segment", "arguments": {"filters": {"min_orders": 3}}}', True),
    ('{"name": "query_segment", "arguments": {"filters": {"min_orders": 2, "max_spend": 50}}}',
     True),
    ('{"name": "query_segment", "arguments": {"filters": {"min_orders": 25}}}', False),
    ('{"name": "query_segment", "arguments": {"filters": {"country": "UK"}, "limit": 50}}', True),
    ('{"name": "query_segment", "arguments": {"filters": {"max_spend": 100}}}', False),
])
def test_numbers_inside_a_nested_filter_object_are_grounded_too(text, ok):
    ask = [{"role": "user", "content": "Customers with more than 2 orders and under fifty bucks?"}]
    assert (Grounding([SEGMENT], ask).feed(_Scan(), text) is not None) is ok


def test_without_a_stated_quantity_no_numeric_filter_key_can_be_written():
    grounding = Grounding([SEGMENT], [{"role": "user", "content": "How many customers in UK?"}])
    assert grounding.child_keys[("query_segment", "filters")] == ["country"]
    assert grounding.keys["query_segment"] == ["filters"]
    assert number_values([{"role": "user", "content": "customer 16029, order #W1234567"}]) == set()


def test_an_id_a_tool_result_typed_as_another_kind_is_not_a_candidate():
    messages = [
        {"role": "user", "content": "I'm liam@example.com"},
        {"role": "tool", "content": json.dumps({
            "user_id": "liam_thomas_8833", "orders": ["#W3761872"],
            "payment_methods": [{"id": "gift_card_7287775", "source": "gift_card"}]})},
        {"role": "tool", "content": json.dumps({
            "product_id": "7765186836", "variants": [{"item_id": "8591113813"}]})},
        {"role": "user", "content": "swap it, 41 Orchard Way"},
    ]
    values = identifier_values(messages)
    assert "#W3761872" not in values["user_id"] and "W3761872" not in values["user_id"]
    assert "liam_thomas_8833" not in values["order_id"] and "#W3761872" in values["order_id"]
    assert values["payment_method_id"] >= {"gift_card_7287775"}
    assert "gift_card_7287775" not in values["item_ids"]
    assert values["item_ids"] == values["new_item_ids"] == {"8591113813", "41"}


@pytest.fixture(scope="module")
def grounded(tiny_dialog_model):
    return LocalBackend(tiny_dialog_model, constrained=True, grounded=True)


def test_random_model_writes_only_identifiers_from_the_conversation(grounded):
    ask = [{"role": "user", "content": "Will customer 16029 buy? Or check order #A77."}]
    allowed = identifier_values(ask)["user_id"]
    for seed in range(4):
        result = grounded.chat(ChatRequest(messages=ask, tools=TOOLS, tool_choice="required",
                                           temperature=1.0, seed=seed, max_tokens=80))
        assert result.tool_calls, result
        args = json.loads(result.tool_calls[0]["function"]["arguments"])
        ids = [v for k, v in args.items() if k in {"user_id", "order_id"}]
        assert ids and all(v in allowed for v in ids), args


def test_random_model_writes_only_numbers_the_user_stated(grounded):
    ask = [{"role": "user", "content": "Will customer 16029 buy in the next fortnight?"}]
    written = []
    for seed in range(6):
        result = grounded.chat(ChatRequest(messages=ask, tools=TOOLS, tool_choice="required",
                                           temperature=1.0, seed=seed, max_tokens=80))
        args = json.loads(result.tool_calls[0]["function"]["arguments"])
        written += [args["horizon_days"]] if "horizon_days" in args else []
    assert written and all(days in (14, None) for days in written), written  # null: default


def test_no_call_is_generated_when_no_tool_has_its_identifier(grounded):
    ask = [{"role": "user", "content": "what is the status of my order?"}]
    for seed in range(3):
        result = grounded.chat(ChatRequest(messages=ask, tools=TOOLS, temperature=1.0,
                                           seed=seed, max_tokens=20))
        assert result.tool_calls == [] and "<tool_call>" not in result.content


@pytest.mark.parametrize("text, ok", [
    (('{"name": "find_user_id_by_name_zip", "arguments": {"first_name": "Diego", '
      '"last_name": "Patel", "zip": "90099"}}'), True),
    ('{"name": "find_user_id_by_name_zip", "arguments": {"first_name": "diego"', True),
    ('{"name": "find_user_id_by_name_zip", "arguments": {"first_name": "Ilya"', False),
    ('{"name": "find_user_id_by_name_zip", "arguments": {"first_name": "Diego Patel"', False),
])
def test_names_are_words_the_customer_wrote(text, ok):
    lookup = {"type": "function", "function": {"name": "find_user_id_by_name_zip", "parameters": {
        "type": "object", "required": ["first_name", "last_name", "zip"], "properties": {
            "first_name": {"type": "string"}, "last_name": {"type": "string"},
            "zip": {"type": "string"}}}}}
    messages = [SYSTEM, {"role": "user", "content": "I'm diego Patel, zip code 90099."}]
    assert (Grounding([lookup], messages).feed(_Scan(), text) is not None) is ok


def test_chinese_names_are_runs_of_the_customers_characters():
    from assistant.backends.grounding import name_values

    names = name_values([{"role": "user", "content": "我叫王芳,邮编90099"}])
    assert {"王", "芳", "王芳"} <= names and "李" not in names


ADDRESS_TOOL = {"type": "function", "function": {"name": "modify_pending_order_address",
                                                 "parameters": {
    "type": "object", "required": ["order_id", "address1", "city", "zip"], "properties": {
        "order_id": {"type": "string"}, "address1": {"type": "string"},
        "city": {"type": "string"}, "zip": {"type": "string"}}}}}


@pytest.mark.parametrize("text, callable_", [
    ("I placed order #W3878528 by mistake and would like it cancelled.", False),
    ("I'm Nadia Hill, postcode 19132. Can you call off order #W4764267?", False),
    ("Ship #W2093032 to 58 Quarry Hill Road, Apt 3B, Burlington, VT 05401 instead.", True),
    ("请把订单#W2093032的地址改成上海市南京路100号", True),
])
def test_an_address_change_needs_an_address_the_customer_wrote(text, callable_):
    grounding = Grounding([ADDRESS_TOOL], [{"role": "user", "content": text}])
    assert ("modify_pending_order_address" in grounding.names) is callable_


def test_an_order_number_is_only_an_order_id_and_a_call_types_the_ids_it_used():
    messages = [{"role": "user", "content": "I'm Nadia Hill, postcode 19132. Cancel #W4764267."},
                {"role": "assistant", "content": "", "tool_calls": [{"function": {
                    "name": "find_user_id_by_name_zip", "arguments": json.dumps(
                        {"first_name": "Nadia", "last_name": "Hill", "zip": "19132"})}}]},
                {"role": "tool", "content": '{"user_id": "nadia_hill_1"}'}]
    values = identifier_values(messages)
    assert not {"19132", "W4764267", "#W4764267"} & values["item_ids"]
    assert not {"W4764267", "#W4764267"} & (values["payment_method_id"] | values["user_id"])
    assert "19132" in values["zip"] and "#W4764267" in values["order_id"]
    with_items = messages + [{"role": "tool", "content": json.dumps(
        {"order_id": "#W4764267", "items": [{"item_id": "4156077579"}]})}]
    assert identifier_values(with_items)["item_ids"] == {"4156077579"}
