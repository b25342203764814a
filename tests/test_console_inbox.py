"""The console's Inbox without a browser: the table, a thread as the operator reads it, and the
desk actions with their refusals. The dialog model is a SCRIPTED test model, not a language model.
"""

from __future__ import annotations

import pytest
from scripted_model import ScriptedChatModel, call, say

from assistant.api.service import ChatService
from assistant.store import StoredMessage
from tests.shops import private_copy
from ui.inbox import act, conversation, customer_panels, inbox_rows, thread_panel


def script(messages):
    last = messages[-1]
    if last.type == "tool":
        return say("ok")
    return call("find_user_id_by_email", email=last.content.split()[-1]) if "@" in \
        last.content else say("hello")


@pytest.fixture
def service(small_shop, tmp_path):
    shop = private_copy(small_shop, tmp_path, warehouse_dir=tmp_path, operator_token="t")
    return ChatService(shop, model=ScriptedChatModel(script=script))


def _customer_thread(service: ChatService, text: str) -> str:
    _, thread = service.new_customer_session()
    list(service.stream(thread, text))
    return thread.thread_id


def test_the_inbox_lists_waiting_and_held_threads_newest_first(service):
    quiet = _customer_thread(service, "hello")
    first, second = _customer_thread(service, "one"), _customer_thread(service, "two")
    service.desk.request(first, by="customer")
    service.desk.request(second, by="customer")
    assert act(service, "take", first, "Ana") == ""
    rows = inbox_rows(service)
    assert set(rows["thread"]) == {first, second} and quiet not in set(rows["thread"])
    assert rows.loc[rows["thread"] == first, "held by"].item() == "Ana"


def test_a_thread_reads_with_collapsed_tool_steps_and_named_people(service):
    from knowledge.customer_records import demo_customer

    email, _, _ = demo_customer(service.settings)
    thread = _customer_thread(service, f"I am {email}")
    act(service, "take", thread, "Ana")
    assert act(service, "reply", thread, "Ana", "Hi, Ana here") == ""
    shown, line = thread_panel(service, thread)
    profile, record = customer_panels(service, thread)
    step = next(m for m in shown if m.metadata and m.metadata.get("title"))
    assert step.metadata["title"] == "🛠 find_user_id_by_email" and "result" in step.content
    assert shown[-1].content == "**👤 Ana (person):** Hi, Ana here"
    assert line.startswith("**human** · held by Ana") and "orders" in record and profile


def test_desk_refusals_are_shown_to_the_operator(service):
    thread = _customer_thread(service, "hello")
    assert act(service, "take", None, "Ana") == "Pick a thread first."
    assert "take the thread first" in act(service, "reply", thread, "Ana", "hi")
    assert "not found" in act(service, "take", "missing", "Ana")
    act(service, "resolve", thread, "Ana")
    assert "resolved" in act(service, "take", thread, "Ana")
    assert "resolved" in act(service, "approve", thread, "Ana")


def test_an_unknown_thread_shows_a_warning_not_a_crash(service):
    shown, line = thread_panel(service, "missing")
    assert shown == [] and line.startswith("⚠") and "not found" in line
    assert customer_panels(service, "missing")[0] == "The customer has not signed in."


def test_operator_messages_are_marked_in_the_conversation():
    messages = [StoredMessage(id=1, role="user", content="hi", created_at="t"),
                StoredMessage(id=2, role="assistant", content="hello", created_at="t",
                              shown="hello"),
                StoredMessage(id=3, role="assistant", content="Ana here", created_at="t",
                              author="Ana")]
    assert [m.content for m in conversation(messages)] == ["hi", "hello",
                                                           "**👤 Ana (person):** Ana here"]


def test_the_operator_sees_which_model_answers_the_customer_did_not_read():
    messages = [StoredMessage(id=1, role="assistant", content="Error: boom", created_at="t",
                              shown="Sorry, something went wrong."),
                StoredMessage(id=2, role="assistant", content="Your order ships today",
                              created_at="t")]
    replaced, withheld = (m.content for m in conversation(messages))
    assert replaced.endswith("*(the customer read instead: Sorry, something went wrong.)*")
    assert withheld.endswith("*(not sent to the customer)*")
