"""Training dialogs come from the tool registry and real entities, reproducibly; the dev split
uses phrasing families never seen in training."""

from __future__ import annotations

import json
import re

import pytest

from finetune.dialog.data import SLOT, DialogData, phrasings
from tools.model_view import AWAITING_CONFIRMATION
from tools.registry import get_tool


@pytest.fixture(scope="module")
def data(small_shop):
    return DialogData(small_shop, seed=7)


def test_same_seed_same_dialogs(small_shop):
    first = DialogData(small_shop, seed=3).train_examples(60)
    assert first == DialogData(small_shop, seed=3).train_examples(60)
    assert first != DialogData(small_shop, seed=4).train_examples(60)


def test_every_training_call_validates_against_the_registered_tool(data, small_shop):
    examples = data.train_examples(300)
    kinds = {e["kind"].split(":")[0] for e in examples}
    assert {"call", "clarify", "no-call"} <= kinds
    assert {e["role"] for e in examples} == {"operator", "customer"}
    for example in examples:
        for message in example["messages"]:
            for call in message.get("tool_calls", []):
                spec = get_tool(call["function"]["name"])
                assert example["role"] in spec.roles
                spec.input_model.model_validate(call["function"]["arguments"])


def test_calls_write_their_arguments_in_schema_order_as_constrained_decoding_must(data):
    """outlines' JSON-schema regex fixes the key order; training in another order made the
    served model stop after the forced first key (no segment filters at all)."""
    def keys_in_order(args: dict, schema: dict, defs: dict) -> None:
        props = list(schema["properties"])
        assert [props.index(k) for k in args] == sorted(props.index(k) for k in args), args
        for value in args.values():
            if isinstance(value, dict):  # the only nested object is query_segment's filters
                keys_in_order(value, defs["SegmentFilters"], defs)

    seen = set()
    for example in data.train_examples(400) + data.dev_cases():
        for message in example["messages"]:
            for call in message.get("tool_calls", []):
                fn = call["function"]
                schema = data.schemas[fn["name"]]
                keys_in_order(fn["arguments"], schema, schema.get("$defs", {}))
                seen.add(fn["name"])
    assert {"query_segment", "suggest_intervention", "predict_behavior"} <= seen


def test_an_enumerated_argument_with_a_default_is_always_written(data):
    """event=purchase is stated, so the model picks the event from the words instead of
    choosing between writing "churn" and leaving the key out."""
    events = [call["function"]["arguments"].get("event")
              for example in data.train_examples(400) for message in example["messages"]
              for call in message.get("tool_calls", [])
              if call["function"]["name"] == "predict_behavior"]
    assert events and None not in events and {"purchase", "churn"} <= set(events)
    expected = [want["arguments"] for case in data.dev_cases() for want in case["expected"]
                if want["name"] == "predict_behavior"]
    assert expected and all(args.get("event") != "purchase" for args in expected)  # DESIGN.md


def test_operator_ids_are_the_shops_own_or_other_shops_formats(data, small_shop):
    """Mostly the shop's real ids, and the numeric or prefixed ids other shops use
    ("customer 16029"), so a real shop's ids are not read as order ids."""
    import duckdb

    con = duckdb.connect(str(small_shop.warehouse), read_only=True)
    users = {r[0] for r in con.execute("SELECT user_id FROM users").fetchall()}
    con.close()
    calls = [c["function"]["arguments"] for e in data.train_examples(300) if e["role"] == "operator"
             for m in e["messages"] for c in m.get("tool_calls", [])]
    ids = [a["user_id"] for a in calls if "user_id" in a]
    own = [i for i in ids if i in users]
    other = [i for i in ids if i not in users]
    assert len(own) > len(ids) / 3 and any(i.isdigit() for i in other)
    assert all(re.fullmatch(r"\d+|(C|CU|cust-|cus_|u)\d+", i) for i in other)


def _skeleton(text: str) -> str:
    return SLOT.sub("{}", text.partition("||")[0]).strip().lower()


def test_dev_phrasings_never_appear_in_training(data):
    text = phrasings()
    for role in ("operator", "customer"):
        for tool, families in text[role].items():
            train = {_skeleton(t) for t in families.get("train", [])}
            assert not train & {_skeleton(t) for t in families.get("dev", [])}, tool
    user_turns = {m["content"] for e in data.train_examples(400) for m in e["messages"]
                  if m["role"] == "user"}
    dev_patterns = [re.compile(re.escape(_skeleton(t)).replace(r"\{\}", ".+") + "$")
                    for role in ("operator", "customer") for f in text[role].values()
                    for t in f.get("dev", [])]
    assert not [u for u in user_turns if any(p.match(u.lower()) for p in dev_patterns)]


def test_dev_cases_follow_the_evaluation_format(data, tmp_path):
    from assistant.toolcall_eval import read_cases
    from finetune.dialog.data import write_jsonl

    cases = read_cases(write_jsonl(data.dev_cases(), tmp_path / "dev.jsonl"))
    assert len({c.id for c in cases}) == len(cases)
    assert any(not c.expected for c in cases) and any(c.expected for c in cases)
    for case in cases:
        assert case.messages[-1]["role"] in {"user", "tool"}
        for call in case.expected:
            get_tool(call["name"])
            json.dumps(call["arguments"])


def test_bitext_and_tau_flows_use_train_files_only(shared_data, small_shop):
    data = DialogData(small_shop.model_copy(update={"data_dir": shared_data}), seed=1)
    examples = data.train_examples(400)
    bitext_train = {r["utterance"] for r in data.bitext["train"]}
    bitext_dev = {r["utterance"] for r in data.bitext["dev"]} - bitext_train
    used = {e["messages"][-2]["content"] if e["messages"][0]["role"] != "system" else
            e["messages"][1]["content"] for e in examples if e["kind"].startswith("bitext")}
    assert used and used <= bitext_train and not used & bitext_dev
    flows = [e for e in examples if e["kind"] == "tau-flow"]
    assert flows and all(get_tool(f["expected"][0]["name"]).writes for f in flows)
    confirmed = [e for e in examples if "yes" in [m["content"] for m in e["messages"]]]
    assert confirmed
    for example in confirmed:  # held write call -> the customer's yes -> the result's headline
        said = [m["content"] for m in example["messages"]]
        assert said.index(AWAITING_CONFIRMATION) < said.index("yes")
        assert said[-2].startswith(json.dumps({"headline": said[-1]})[:-1])


def test_customer_requests_often_follow_a_sign_in_of_the_same_customer(shared_data, small_shop):
    data = DialogData(small_shop.model_copy(update={"data_dir": shared_data}), seed=3)
    requests = [[m for m in e["messages"] if m["role"] != "system"]
                for e in data.train_examples(600) if e["role"] == "customer" and e["kind"] == "call"]
    opened = [m for m in requests if m[1].get("tool_calls") and m[1]["tool_calls"][0]["function"]
              ["name"].startswith("find_user_id") and len(m) > 4 and m[4]["role"] == "user"]
    assert 0.15 < len(opened) / len(requests) < 0.6
    for messages in opened:  # an order asked about is the signed-in customer's own, if they have any
        user_id = json.loads(messages[2]["content"])["user_id"]
        args = messages[5]["tool_calls"][0]["function"]["arguments"]
        if args.get("order_id") in data.ents.orders and data.ents.customers[user_id].get("orders"):
            assert data.ents.orders[args["order_id"]]["user_id"] == user_id


def test_a_recommendation_clarification_is_answered_by_a_user_or_a_query(data):
    """"For which customer, or what kind of product?" gets one of the two back: a model that
    only ever saw a query there invented one for "What should we recommend to user X?"."""
    given = []
    for _ in range(300):
        example = data.clarify("operator", "recommend_products")
        if example["kind"] == "clarify+call":
            args = example["messages"][-1]["tool_calls"][0]["function"]["arguments"]
            given.append(sorted(args))
    assert sorted(set(map(tuple, given))) == [("query",), ("user_id",)]


CHANGES = {"modify_pending_order_address", "modify_pending_order_payment",
           "modify_pending_order_items", "return_delivered_order_items",
           "exchange_delivered_order_items", "cancel_pending_order"}


def test_change_requests_name_the_signed_in_customers_own_order_items_and_methods(data):
    """A change request is one the shop's tools would accept: the customer's own order in the
    status the change needs, an item of that order, another variant of the same product, a
    refund to the method that paid, a switch to a method the customer has but did not use."""
    from finetune.dialog.order_changes import ORDER_STATUS_FOR

    if not data.ents.variants:
        pytest.skip("needs the tau-bench retail records in data_dir (orders with statuses)")
    seen: set[str] = set()
    for example in data.train_examples(600):
        calls = [c["function"] for m in example["messages"] for c in m.get("tool_calls", [])]
        signed_in = [m for m in example["messages"] if m["role"] == "tool"
                     and m["content"].startswith('{"user_id"')]
        if example["kind"] == "tau-flow" or not calls or calls[-1]["name"] not in CHANGES \
                or not signed_in:  # tau-bench's own tasks are kept as they are
            continue
        name, args = calls[-1]["name"], calls[-1]["arguments"]
        seen.add(name)
        user_id = json.loads(signed_in[0]["content"])["user_id"]
        order = data.ents.orders[args["order_id"]]
        assert order["user_id"] == user_id and order["status"] == ORDER_STATUS_FOR[name]
        items = {i["item_id"]: i for i in order["items"]}
        assert set(args.get("item_ids", [])) <= set(items)
        for old, new in zip(args.get("item_ids", []), args.get("new_item_ids", [])):
            assert new in data.ents.variants[items[old]["product_id"]] and new != old
        paid = {p["payment_method_id"] for p in order["payment_history"]}
        if name in ("return_delivered_order_items", "exchange_delivered_order_items"):
            assert args["payment_method_id"] in paid
        if name == "modify_pending_order_payment":
            assert args["payment_method_id"] in data.ents.customers[user_id]["payment_methods"]
            assert args["payment_method_id"] not in paid
    assert seen == CHANGES


def test_some_change_requests_look_the_order_up_first(data):
    """Then the change follows the order's details, instead of the model stopping at them."""
    flows = [[c["function"]["name"] for m in e["messages"] for c in m.get("tool_calls", [])]
             for e in data.train_examples(600)]
    looked_up = [f for f in flows if len(f) >= 2 and f[-2] == "get_order_details"
                 and f[-1] in CHANGES]
    assert len(looked_up) >= 10
