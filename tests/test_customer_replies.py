"""What a customer reads, driven by a SCRIPTED test model (tests/scripted_model.py, not a language
model): the script repeats tool errors and leaves tool-call markup the way a small model does;
the customer must get a polite reply instead, and the operator's record the real error."""

from __future__ import annotations

import itertools

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from scripted_model import ScriptedChatModel, call, say

from assistant.agent import Agent
from assistant.customer_reply import CustomerStream, apologies, customer_text
from assistant.store import Store
from knowledge import warehouse
from tests.shops import private_copy

NOT_SIGNED_IN = "not authenticated"  # the start of the tool error for an anonymous look-up
ASK_FOR_EMAIL = "Could you give me your e-mail address so I can look up your account?"
MARKUP = ("<tool_call>", "</tool_call>", "<tool_response>", '"arguments"')


@pytest.fixture
def shop(cs_shop, tmp_path):
    """A private copy of the shop's warehouse (a confirmed cancel writes)."""
    return private_copy(cs_shop, tmp_path)


@pytest.fixture
def customer(shop) -> dict:
    """A customer with a pending order."""
    con = warehouse.connect(shop.warehouse)
    user_id, order_id = con.execute("SELECT user_id, min(order_id) FROM orders WHERE status = "
                                    "'pending' GROUP BY user_id ORDER BY user_id LIMIT 1").fetchone()
    con.close()
    return {"user_id": user_id, "pending": order_id}


def _agent(shop, tmp_path, script, max_tool_steps=6) -> Agent:
    return Agent(shop, ScriptedChatModel(script=script), Store(tmp_path / "conv.sqlite"),
                 max_tool_steps=max_tool_steps)


def _since_user(messages):
    return messages[max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage)):]


def _quoting_the_error(order_id: str):
    """Looks the order up, then answers the way the dialog model was trained to answer an
    error: 'Sorry, that did not work: {error}. Could you check the details?'."""
    def script(messages):
        results = [m for m in _since_user(messages) if isinstance(m, ToolMessage)]
        if not results:
            return call("get_order_details", order_id=order_id)
        error = results[-1].content.removeprefix("Error: ")
        return say(f"Sorry, that did not work: {error}. Could you check the details?")
    return script


def _customer_sees(events) -> tuple[str, str]:
    """(the final answer, everything streamed as tokens)."""
    return events[-1].text, "".join(e.text for e in events if e.type == "token")


def test_a_customer_never_sees_a_raw_tool_error(shop, customer, tmp_path):
    agent = _agent(shop, tmp_path, _quoting_the_error(customer["pending"]))
    thread = agent.store.new_thread("customer")  # not signed in: the look-up fails
    events = agent.chat(thread.thread_id, f"where is my order {customer['pending']}?")
    final, streamed = _customer_sees(events)
    assert final == f"Sorry, I couldn't complete that just now. {ASK_FOR_EMAIL}"
    for text in (final, streamed):
        assert NOT_SIGNED_IN not in text and "did not work" not in text
        assert "ask for their email" not in text and "Error" not in text


def test_the_operator_trace_keeps_the_real_error(shop, customer, tmp_path):
    agent = _agent(shop, tmp_path, _quoting_the_error(customer["pending"]))
    thread = agent.store.new_thread("customer")
    agent.chat(thread.thread_id, f"where is my order {customer['pending']}?")
    stored = agent.store.messages(thread.thread_id)
    assert [m.role for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[2].status == "error" and NOT_SIGNED_IN in stored[2].content
    assert "Sorry, that did not work: the customer is not authenticated" in stored[3].content
    replaced = [a for a in agent.store.audit_log(thread.thread_id)
                if a["event"] == "customer_reply_replaced"]
    assert len(replaced) == 1
    detail = replaced[0]["detail"]
    assert detail["kind"] == "authentication" and NOT_SIGNED_IN in detail["error"]
    assert detail["model_answer"] == stored[3].content and ASK_FOR_EMAIL in detail["shown"]


def test_the_model_may_still_recover_from_a_tool_error(shop, customer, tmp_path):
    """An error answered in the model's own words (asking for the e-mail) reaches the customer
    as the model wrote it."""
    def script(messages):
        if any(isinstance(m, ToolMessage) for m in _since_user(messages)):
            return say("I need to find your account first. What is your email address?")
        return call("get_order_details", order_id=customer["pending"])

    agent = _agent(shop, tmp_path, script)
    events = agent.chat(agent.store.new_thread("customer").thread_id, "where is my order?")
    assert events[-1].text == "I need to find your account first. What is your email address?"
    assert _customer_sees(events)[1] == events[-1].text


def _after_a_confirmed_cancel(shop, customer, tmp_path, reply: str):
    """The customer confirms a cancel; after it ran, the scripted model answers ``reply``."""
    def script(messages):
        turn = _since_user(messages)
        if any(isinstance(m, ToolMessage) for m in turn) or isinstance(turn[-1], AIMessage):
            return say(reply)
        if "cancel" in turn[0].content:
            return call("cancel_pending_order", order_id=customer["pending"],
                        reason="no longer needed")
        return say(reply)

    agent = _agent(shop, tmp_path, script)
    thread = agent.store.new_thread("customer", customer_id=customer["user_id"])
    agent.chat(thread.thread_id, "please cancel my order")
    return agent.chat(thread.thread_id, "yes")


@pytest.mark.parametrize("reply", [
    "</tool_call>",
    '<tool_call>{"name": "get_order_details", "arguments": {"order_id": "#W1"}}</tool_call>',
    '{"name": "get_order_details", "arguments": {"order_id": "#W1"}}',
    "<tool_response>{\"status\": \"cancelled\"}</tool_response>",
    '{"headline": "Order #W1, status cancelled", "status": "cancelled"}',
])
def test_tool_call_markup_never_reaches_the_customer(shop, customer, tmp_path, reply):
    events = _after_a_confirmed_cancel(shop, customer, tmp_path, reply)
    assert next(e for e in events if e.type == "tool_result").error is False
    final, streamed = _customer_sees(events)
    assert not any(mark in text for mark in MARKUP for text in (final, streamed))
    assert final.startswith("That's done: cancel pending order") and customer["pending"] in final


def test_a_stray_closing_tag_is_dropped_and_the_answer_kept(shop, customer, tmp_path):
    events = _after_a_confirmed_cancel(shop, customer, tmp_path,
                                       "Your order has been cancelled.</tool_call>")
    assert _customer_sees(events) == ("Your order has been cancelled.",) * 2


def test_a_turn_that_ends_on_an_unanswered_error_gets_a_polite_reply(shop, tmp_path):
    """The model keeps calling a failing look-up until the step limit ends the turn with
    LangChain's own note ('Tool call limit reached ...')."""
    numbers = itertools.count(1000000)
    agent = _agent(shop, tmp_path, lambda messages: call(
        "get_order_details", order_id=f"#W{next(numbers)}"), max_tool_steps=2)
    events = agent.chat(agent.store.new_thread("customer").thread_id, "my orders?")
    final, streamed = _customer_sees(events)
    assert final == f"Sorry, I couldn't complete that just now. {ASK_FOR_EMAIL}"
    assert "limit" not in final + streamed


def test_operators_keep_seeing_real_errors(shop, customer, tmp_path):
    agent = _agent(shop, tmp_path, lambda messages: (
        say(f"tool said: {messages[-1].content}") if isinstance(messages[-1], ToolMessage)
        else call("calculate", expression="1/0")))
    events = agent.chat(agent.store.new_thread("operator").thread_id, "divide")
    assert events[-1].text == "tool said: Error: division by zero"


@pytest.mark.parametrize(("error", "kind"), [
    ("Error: the customer is not authenticated yet: ask for their email", "authentication"),
    ("Error: order '#W1' not found among the signed-in customer's orders", "order_not_found"),
    ("Error: user not found for email 'a@b.c'; check the spelling", "account_not_found"),
    ("Error: non-pending order cannot be cancelled (order #W1 is 'delivered')", "order_status"),
    ("Error: insufficient gift card balance (10) to pay for the order (20)", "payment"),
    ("Error: tool 'query_segment' is not available in a customer conversation", "not_allowed"),
    ("Error: invalid arguments for get_order_details: order_id: Field required",
     "unclear_details"),
    ("Error: tool calculate failed unexpectedly (RuntimeError: disk on fire)", "other"),
])
def test_each_error_kind_has_its_polite_reply(error, kind):
    assert apologies().kind(error) == kind
    reply = customer_text(f"Sorry, that did not work: {error}", [error], [error], None, None)
    assert reply.error == error and reply.why is not None
    assert reply.text == next((r for k, _, r in apologies().kinds if k == kind),
                              apologies().fallback)


@pytest.mark.parametrize("answer", [
    "I couldn't find the address1. Could you check the database?",
    "I couldn't find the item_ids you gave. Could you check it and send it again?",
    "Please send me the payment_method_id again.",
])
def test_machinery_words_after_a_refused_write_become_the_polite_reply(answer):
    """Seen in the task harness after a refused address change and a wrong item."""
    error = "Error: item paypal_7320841 not found in order #W6737482"
    reply = customer_text(answer, [error], [error], None, None)
    assert reply.why == "internal"
    assert reply.text == next(r for k, _, r in apologies().kinds if k == "items")


def test_an_answer_with_a_payment_method_and_an_order_number_is_kept():
    answer = "Done: order #W6737482 is now paid with paypal_7320841."
    assert customer_text(answer, [], [], None, None).text == answer
    error = "Error: order '#W1' not found among the signed-in customer's orders"
    assert customer_text(answer, [error], [error], None, None).text == answer


def test_argument_names_in_a_turn_without_an_error_are_kept():
    answer = 'Found you: {"user_id": "ahmed_li_1265"} is your account.'
    assert customer_text(answer, [], [], None, None).text == answer


def test_the_stream_holds_back_what_turns_into_an_error():
    error = "Error: the customer is not authenticated yet: ask for their email"
    stream = CustomerStream([error])
    text = "Sorry, I tried, but the customer is not authenticated yet: ask for their email"
    shown = "".join(stream.feed("m1", w + " ") for w in text.split()) + stream.finish()
    assert "not authenticated yet: ask" not in shown and len(shown) < 40
    clean = CustomerStream([error])
    text = "Your order #W1234567 is on its way and should arrive on Friday."
    shown = "".join(clean.feed("m2", w + " ") for w in text.split()) + clean.finish()
    assert shown == text
