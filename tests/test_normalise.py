"""Worded tool arguments (tools/normalise.py): what a model that is not grammar-constrained
writes is read exactly, or refused with what was expected; the schema the model sees is the
declared one."""

from __future__ import annotations

import re

import pytest

from knowledge import warehouse
from tools.normalise import (
    amount_arg,
    clean_order_id,
    clean_user_id,
    count_arg,
    days_arg,
    parse_days,
    parse_number,
    probability_arg,
    quantities_in,
    user_id_arg,
)
from tools.registry import ToolContext, ToolError, get_tool


@pytest.mark.parametrize(("text", "value"), [
    ("5", 5), ("2.5", 2.5), ("2,500", 2500), ("five", 5), ("twenty-five", 25),
    ("one hundred and five", 105), ("a dozen", 12), ("half a dozen", 6), ("two dozen", 24),
    ("a couple", 2), ("a pair", 2), ("a hundred", 100), ("three thousand", 3000),
    ("a grand", 1000), ("2 grand", 2000), ("2.5k", 2500), ("two and a half", 2.5),
    ("half", 0.5), ("two", 2), ("两", 2), ("十五", 15), ("一百零五", 105), ("一百五", 150),
    ("三千五", 3500), ("一万二", 12000), ("2.5万", 25000), ("半", 0.5), ("五个", 5),
])
def test_numbers_in_words_digits_and_chinese_numerals(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize(("text", "value"), [
    ("$2.5k", 2500), ("£500", 500), ("500 pounds", 500), ("€1,200", 1200), ("20 bucks", 20),
    ("a grand", 1000), ("五百块", 500), ("¥300", 300), ("300元", 300),
])
def test_amounts_drop_currency_symbols_and_names(text, value):
    assert parse_number(text, currency=True) == value


@pytest.mark.parametrize(("text", "days"), [
    ("30", 30), ("30 days", 30), ("30d", 30), ("thirty", 30), ("a week", 7), ("six weeks", 42),
    ("a fortnight", 14), ("two fortnights", 28), ("3 months", 90), ("a month", 30),
    ("one and a half months", 45), ("a year", 365), ("2 years", 730), ("next quarter", 90),
    ("the next 60 days", 60), ("within 2 weeks", 14), ("last 3 months", 90),
    ("两周", 14), ("三个月", 90), ("半个月", 15), ("一个半月", 45), ("一年", 365),
    ("下个季度", 90), ("未来30天", 30), ("十天内", 10), ("48 hours", 2), ("the next 72h", 3),
    ("24 hrs", 1), ("48小时", 2),
])
def test_durations_in_days(text, days):
    assert parse_days(text) == days


@pytest.mark.parametrize("text", ["lots", "a few", "several", "many", "a", "", "一些", "6 weeks",
                                  "5 5", "five six"])
def test_vague_numbers_are_refused_not_guessed(text):
    with pytest.raises(ValueError, match="unknown|no number|empty|in a row"):
        parse_number(text)


@pytest.mark.parametrize("text", ["soonish", "a few weeks", "weeks", "y", "1.5 days", "3 apples",
                                  "一些天", "ages", "36 hours", "hours"])
def test_vague_durations_are_refused_not_guessed(text):
    with pytest.raises(ValueError, match="unknown|no number|whole number|not a duration"):
        parse_days(text)


@pytest.mark.parametrize(("text", "user_id"), [
    ("15544", "15544"), ("no. 15544", "15544"), ("No.15544", "15544"), ("customer 15544", "15544"),
    ("Customer #15544.", "15544"), ("#15544", "15544"), ("user id: 15544", "15544"),
    ("user: sara_doe_496", "sara_doe_496"), ("'sara_doe_496'", "sara_doe_496"),
    ("sara_doe_496", "sara_doe_496"), ("user_12", "user_12"), ("noah_smith_1234", "noah_smith_1234"),
])
def test_user_ids_lose_their_labels_only(text, user_id):
    assert clean_user_id(text) == user_id


@pytest.mark.parametrize(("text", "order_id"), [
    ("#W1234567", "#W1234567"), ("W1234567", "#W1234567"), ("w1234567", "#W1234567"),
    ("#w1234567", "#W1234567"), ("order #W1234567", "#W1234567"),
    ("order id: W1234567", "#W1234567"), ("536365", "536365"), ("order 536365", "536365"),
    ("1234567", "1234567"), ("#W123456", "#W123456"),  # not a tau id: left for the tool to refuse
])
def test_order_ids_get_the_tau_bench_form_only_when_unambiguous(text, order_id):
    assert clean_order_id(text) == order_id


@pytest.mark.parametrize(("read", "value", "expected"), [
    (count_arg, "half a dozen", 6), (count_arg, 7, 7), (count_arg, None, None),
    (amount_arg, "$2.5k", 2500), (amount_arg, 99.5, 99.5), (days_arg, "six weeks", 42),
    (days_arg, 30, 30), (probability_arg, "30%", 0.3), (probability_arg, "half", 0.5),
    (user_id_arg, 15544, "15544"), (user_id_arg, 15544.0, "15544"),
    (user_id_arg, "no. 15544", "15544"),
])
def test_validators_read_words_and_pass_numbers_through(read, value, expected):
    assert read(value) == expected


@pytest.mark.parametrize(("read", "value", "message"), [
    (days_arg, "soonish", "expected a number of days such as 30 or 'six weeks', got 'soonish'"),
    (days_arg, True, "expected a number of days such as 30 or 'six weeks', got True"),
    (count_arg, "many", "expected a whole number such as 5 or 'half a dozen', got 'many'"),
    (count_arg, "2.5", "expected a whole number such as 5 or 'half a dozen', got '2.5'"),
    (amount_arg, "loads", "expected an amount such as 2500 or '$2.5k', got 'loads'"),
    (probability_arg, "likely", "expected a probability between 0 and 1 such as 0.3 or '30%'"),
    (user_id_arg, "customer #", "expected a user id such as 'sara_doe_496' or '15544'"),
])
def test_what_cannot_be_read_says_what_was_expected(read, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        read(value)


# --- at the tool boundary: ToolSpec.invoke ------------------------------------------------------

def test_worded_arguments_keep_the_schema_the_model_sees():
    """The validators run before the declared types: the JSON schema is unchanged."""
    params = get_tool("predict_behavior").openai_schema()["function"]["parameters"]
    assert params["properties"]["horizon_days"] == {
        "anyOf": [{"maximum": 365, "minimum": 1, "type": "integer"}, {"type": "null"}],
        "default": None, "description": "Days ahead (default 30; 90 for churn)."}
    assert params["properties"]["user_id"] == {"description": "The user to score.",
                                               "minLength": 1, "type": "string"}
    order = get_tool("get_order_details").openai_schema()["function"]["parameters"]
    assert order["properties"]["order_id"]["type"] == "string"
    filters = get_tool("query_segment").openai_schema()["function"]["parameters"]["$defs"][
        "SegmentFilters"]["properties"]
    assert filters["min_spend"]["anyOf"][0] == {"minimum": 0, "type": "number"}
    assert filters["inactive_days_min"]["anyOf"][0] == {"maximum": 36500, "minimum": 0,
                                                        "type": "integer"}


def test_an_unreadable_argument_is_a_tool_error_that_says_what_was_expected(settings):
    with pytest.raises(ToolError) as err:
        get_tool("predict_behavior").invoke(ToolContext(settings), {
            "user_id": "15544", "horizon_days": "soonish"})
    assert str(err.value) == ("invalid arguments for predict_behavior: horizon_days: expected a "
                              "number of days such as 30 or 'six weeks', got 'soonish'")


def test_predict_behavior_reads_six_weeks_as_42_days(settings):
    """No model is trained here: the refusal names the horizon the tool received."""
    with pytest.raises(ToolError, match="unsupported horizon 42 days"):
        get_tool("predict_behavior").invoke(ToolContext(settings), {
            "user_id": 15544, "horizon_days": "six weeks"})


def test_query_segment_with_worded_filters_answers_like_numbers(small_shop, tmp_path):
    shop = small_shop.model_copy(update={"artifacts_dir": tmp_path / "artifacts"})
    spec, ctx = get_tool("query_segment"), ToolContext(shop)
    worded = spec.invoke(ctx, {"question": "q", "limit": "half a dozen", "filters": {
        "min_spend": "£50", "inactive_days_min": "a fortnight", "min_orders": "a couple"}})
    numbers = spec.invoke(ctx, {"question": "q", "limit": 6, "filters": {
        "min_spend": 50, "inactive_days_min": 14, "min_orders": 2}})
    assert worded["filters"] == numbers["filters"] == {
        "min_orders": 2, "min_spend": 50.0, "inactive_days_min": 14}
    assert worded["count"] == numbers["count"] and worded["sample"] == numbers["sample"]
    with pytest.raises(ToolError, match="filters: inactive_days_min: expected a number of days"):
        spec.invoke(ctx, {"question": "q", "filters": {"inactive_days_min": "ages"}})


def test_order_and_user_look_ups_accept_ids_as_models_write_them(cs_shop):
    con = warehouse.connect(cs_shop.warehouse)
    order_id, user_id = con.execute("SELECT order_id, user_id FROM orders ORDER BY order_id "
                                    "LIMIT 1").fetchone()
    con.close()
    ctx = ToolContext(cs_shop, role="operator")
    order = get_tool("get_order_details").invoke(ctx, {"order_id": order_id})
    for written in (order_id.removeprefix("#"), order_id.lower(), f"order {order_id}"):
        assert get_tool("get_order_details").invoke(ctx, {"order_id": written}) == order
    user = get_tool("get_user_details").invoke(ctx, {"user_id": user_id})
    assert get_tool("get_user_details").invoke(ctx, {"user_id": f"user: {user_id}"}) == user


@pytest.mark.parametrize("text, expected", [
    ("How likely is tom_green_8734 to buy in the next fortnight?", {14}),
    ("probability he buys within six weeks", {42}),
    ("three hundred quid budget", {300}),
    ("We've got $2.5k for e-mail sends", {2500}),
    ("How many customers have more than 2 orders?", {2, 3}),
    ("at most one order and a total below fifty bucks", {1, 49, 50}),
    ("purchase probability above seventy percent", {0.7, 70, 71}),
    ("Half a dozen suggestions", {6}),
    ("cust #14632 - the odds within 30 days?", {30}),
    ("Customer No. 17850, user=16728, order W1234567", set()),
    ("未来两周内购买的概率", {2, 14}),
    ("消费超过五百元的客户", {500, 501}),
    ("购买概率低于百分之十", {0.1, 9, 10}),
])
def test_quantities_a_message_states(text, expected):
    assert quantities_in(text) == expected


GOOD_ADDRESS = {"address1": "58 Quarry Hill Road", "address2": "Apt 3B", "city": "Burlington",
                "state": "VT", "country": "USA", "zip": "05401"}


@pytest.mark.parametrize("change", [{}, {"zip": "H2X 9G2", "state": "QC", "country": "Canada"},
                                    {"zip": "SW1A 1AA", "state": "", "address2": ""},
                                    {"city": "Winston-Salem"}, {"address1": "Rose Cottage"}])
def test_real_addresses_pass_the_address_checks(change):
    from tools.customer_service import AddressArgs

    AddressArgs(**(GOOD_ADDRESS | change))


@pytest.mark.parametrize("change, part", [
    ({"address1": "#W3878528"}, "address1"), ({"address2": "amy@example.com"}, "address2"),
    ({"zip": "W3878528"}, "zip"), ({"address1": "19132"}, "address1"), ({"city": "19132"}, "city"),
    ({"state": "paypal_7320841"}, "state"),
])
def test_ids_and_numbers_in_the_wrong_address_part_are_refused_with_the_part_named(change, part):
    from pydantic import ValidationError

    from tools.customer_service import AddressArgs

    with pytest.raises(ValidationError, match=f"expected {part}: "):
        AddressArgs(**(GOOD_ADDRESS | change))
