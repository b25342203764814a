"""The support desk over REST: handoff to a person, the operators' endpoints, live updates,
approvals of confirmed actions only, signed webhooks.

The dialog model is a SCRIPTED test model (tests/scripted_model.py), not a language model; it
counts its calls so that a test can prove the model is not called while a person holds a thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import HumanMessage, ToolMessage
from pydantic import SecretStr
from scripted_model import ScriptedChatModel, call, say

from assistant.api.app import create_app
from assistant.api.service import ChatService
from assistant.signing import WEBHOOK_HEADER, is_webhook_signature, webhook_signature
from knowledge import warehouse
from knowledge.customer_records import demo_customer
from tests.shops import private_copy

TOKEN = "desk-operator-token"
OP = {"Authorization": f"Bearer {TOKEN}"}
HOOK_SECRET = "hook-secret"


class Recorder:
    """The model's calls, and the webhook bodies as a receiver gets them. ``meanwhile`` runs
    once, inside the next model call: what happens while the model is writing."""

    def __init__(self) -> None:
        self.model_calls = 0
        self.hooks: list[tuple[bytes, dict]] = []
        self.meanwhile: Callable[[], object] | None = None

    def script(self, messages):
        self.model_calls += 1
        if self.meanwhile is not None:
            self.meanwhile, happens = None, self.meanwhile
            happens()
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return say(f"done: {last.name}")
        text = last.content if isinstance(last, HumanMessage) else ""
        if "cheque" in text:
            return call("transfer_to_human_agents", summary="wants a refund by cheque")
        if "@" in text:
            return call("find_user_id_by_email", email=text.split()[-1])
        if "cancel" in text:
            return call("cancel_pending_order", order_id=text.split()[-1], reason="no longer needed")
        return say("the assistant answers")

    def send(self, url: str, body: bytes, headers: dict) -> None:
        self.hooks.append((body, headers))

    def events(self) -> list[str]:
        return [json.loads(body)["event"] for body, _ in self.hooks]


@pytest.fixture
def shop(small_shop, tmp_path):
    return private_copy(small_shop, tmp_path, warehouse_dir=tmp_path, operator_token=TOKEN,
                        session_secret="s3cret", handoff_webhook_url="https://helpdesk.test/hook",
                        handoff_webhook_secret=SecretStr(HOOK_SECRET))


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def client(shop, rec):
    service = ChatService(shop, model=ScriptedChatModel(script=rec.script), webhook_send=rec.send)
    with TestClient(create_app(service)) as c:
        yield c


def session(client) -> tuple[dict, str]:
    body = client.post("/v1/sessions").json()
    return {"X-Session": body["session"]}, body["thread_id"]


def say_as_customer(client, headers: dict, text: str) -> dict:
    r = client.post("/v1/chat", json={"message": text}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def updates(client, thread: str, headers: dict, after: int = 0) -> list[tuple[str, dict]]:
    with client.stream("GET", f"/v1/threads/{thread}/updates?after={after}&wait=0",
                       headers=headers) as r:
        assert r.status_code == 200
        lines = list(r.iter_lines())
    kinds = [line.split(":", 1)[1].strip() for line in lines if line.startswith("event:")]
    data = [json.loads(line.split(":", 1)[1]) for line in lines if line.startswith("data:")]
    return list(zip(kinds, data, strict=True))


def test_the_customer_asks_for_a_person_and_sees_their_place_in_line(client, rec):
    (a, thread_a), (b, thread_b) = session(client), session(client)
    first = client.post(f"/v1/threads/{thread_a}/handoff", headers=a).json()
    second = client.post(f"/v1/threads/{thread_b}/handoff", headers=b).json()
    assert first["status"] == second["status"] == "waiting_for_human"
    assert (first["position"], second["position"]) == (1, 2)
    assert "number 2 in line" in second["notice"]
    again = client.post(f"/v1/threads/{thread_b}/handoff", headers=b).json()
    assert again["position"] == 2  # asking again keeps the place
    client.app.state.service.webhook.flush()
    assert rec.events() == ["handoff.requested", "handoff.requested"]


def test_the_models_transfer_puts_the_thread_in_the_queue_with_its_summary(client):
    headers, thread = session(client)
    answer = say_as_customer(client, headers, "Can my refund come as a cheque?")
    kinds = [e["type"] for e in answer["events"]]
    assert kinds[-2:] == ["handoff", "final"] and "number 1 in line" in answer["events"][-2]["text"]
    assert answer["answer"] == ""  # the notice, not the model's words after its transfer
    listed = client.get("/v1/threads", headers=OP).json()["threads"]
    assert [(t["thread_id"], t["status"], t["summary"]) for t in listed] == [
        (thread, "waiting_for_human", "wants a refund by cheque")]


@pytest.mark.parametrize("text", ["Can I please speak to a real person?", "human",
                                  "I'm done with the bot. Agent please.", "转人工"])
def test_a_customer_who_asks_for_a_person_is_handed_over_without_the_model(client, rec, text):
    headers, thread = session(client)
    calls = rec.model_calls
    answer = say_as_customer(client, headers, text)
    assert [e["type"] for e in answer["events"]][-2:] == ["handoff", "final"]
    assert rec.model_calls == calls
    listed = client.get("/v1/threads", headers=OP).json()["threads"]
    assert [(t["thread_id"], t["status"], t["summary"]) for t in listed] == [
        (thread, "waiting_for_human", f"The customer asks for a person: {text}")]


def test_a_message_about_people_that_asks_for_none_goes_to_the_model(client, rec):
    headers, _ = session(client)
    for text in ("Are you a real person?", "I don't want to talk to an agent, just tell me the return window",
                 "the delivery person left it at the door"):
        calls = rec.model_calls
        answer = say_as_customer(client, headers, text)
        assert rec.model_calls > calls and answer["answer"] == "the assistant answers", text


def test_the_model_is_not_called_while_a_person_holds_the_thread(client, rec):
    headers, thread = session(client)
    client.post(f"/v1/threads/{thread}/handoff", headers=headers)
    calls = rec.model_calls
    waiting = say_as_customer(client, headers, "hello? anyone?")
    assert [e["type"] for e in waiting["events"]] == ["handoff", "final"]
    assert waiting["answer"] == "" and "number 1 in line" in waiting["events"][0]["text"]
    client.post(f"/v1/threads/{thread}/take", json={"operator": "Ana"}, headers=OP)
    held = say_as_customer(client, headers, "still there?")
    assert held["events"][0]["text"].startswith("You are talking with Ana")
    assert rec.model_calls == calls  # the model never saw these turns
    messages = client.get(f"/v1/threads/{thread}", headers=OP).json()["messages"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["hello? anyone?",
                                                                       "still there?"]


def test_an_answer_the_model_was_writing_when_an_operator_took_the_thread_is_withheld(
        client, rec):
    service = client.app.state.service
    headers, thread = session(client)
    rec.meanwhile = lambda: service.take(thread, "Ana")  # the take does not wait for the turn
    turn = say_as_customer(client, headers, "hello")
    assert turn["answer"] == "" and [e["type"] for e in turn["events"]] == ["handoff", "final"]
    assert turn["events"][0]["text"].startswith("You are talking with Ana")
    mine = client.get(f"/v1/threads/{thread}", headers=headers).json()["messages"]
    assert [m["content"] for m in mine] == ["hello"]
    full = client.get(f"/v1/threads/{thread}", headers=OP).json()["messages"]
    assert [(m["content"], m["shown"]) for m in full] == [("hello", None),
                                                          ("the assistant answers", None)]
    withheld = [e["detail"] for e in service.store.audit_log(thread)
                if e["event"] == "answer_withheld"]
    assert withheld == [{"status": "human", "model_answer": "the assistant answers",
                         "proposed_action": None}]


def test_a_write_action_proposed_while_the_thread_was_taken_is_not_left_pending(
        client, rec, shop):
    email, _, order = demo_customer(shop)
    service = client.app.state.service
    headers, thread = session(client)
    say_as_customer(client, headers, f"my email is {email}")
    rec.meanwhile = lambda: service.take(thread, "Ana")
    turn = say_as_customer(client, headers, f"please cancel {order}")
    assert turn["awaiting_confirmation"] is None and turn["answer"] == ""
    assert "confirm" not in [e["type"] for e in turn["events"]]
    assert client.get(f"/v1/threads/{thread}", headers=OP).json()["awaiting_confirmation"] is None
    say_as_customer(client, headers, "yes")  # nothing was asked: nothing to confirm
    r = client.post(f"/v1/threads/{thread}/approve", json={"operator": "Ana"}, headers=OP)
    assert r.status_code == 409 and "no write action" in r.json()["detail"]
    assert _order_status(shop, order) == "pending"
    withheld = next(e["detail"] for e in service.store.audit_log(thread)
                    if e["event"] == "answer_withheld")
    assert withheld["proposed_action"]["name"] == "cancel_pending_order"


def test_an_operators_reply_reaches_the_customer_marked_as_from_a_person(client):
    headers, thread = session(client)
    client.post(f"/v1/threads/{thread}/handoff", headers=headers)
    taken = client.post(f"/v1/threads/{thread}/take", json={"operator": "Ana"}, headers=OP)
    assert taken.json()["status"] == "human" and taken.json()["assignee"] == "Ana"
    r = client.post(f"/v1/threads/{thread}/reply", json={"message": "Hi, Ana here.",
                                                         "operator": "Ana"}, headers=OP)
    assert r.status_code == 200
    seen = updates(client, thread, headers)
    assert seen[0][0] == "status" and seen[0][1]["desk"]["status"] == "human"
    messages = [d["message"] for kind, d in seen if kind == "message"]
    assert [(m["content"], m["author"]) for m in messages] == [("Hi, Ana here.", "Ana")]
    cursor = seen[-1][1]["cursor"]
    assert [k for k, _ in updates(client, thread, headers, after=cursor)] == ["status"]


def test_a_customer_sees_only_what_a_person_wrote_in_the_live_updates(client):
    headers, thread = session(client)
    say_as_customer(client, headers, "hi")  # the customer's message and the model's answer
    assert [k for k, _ in updates(client, thread, headers)] == ["status"]
    operator_view = updates(client, thread, OP)
    assert [d["message"]["role"] for k, d in operator_view if k == "message"] == [
        "user", "assistant"]


def test_operator_endpoints_need_the_operator_token(client):
    headers, thread = session(client)
    for path in ("take", "reply", "hand-back", "resolve", "approve"):
        body = {"message": "x"} if path == "reply" else {}
        r = client.post(f"/v1/threads/{thread}/{path}", json=body, headers=headers)
        assert r.status_code == 403 and "operator token" in r.json()["detail"], path
        r = client.post(f"/v1/threads/{thread}/{path}", json=body)
        assert r.status_code == 401 and "not authenticated" in r.json()["detail"]
        r = client.post(f"/v1/threads/{thread}/{path}", json=body,
                        headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and "invalid operator token" in r.json()["detail"]
    assert client.get("/v1/threads", headers=headers).status_code == 403


def test_unknown_threads_are_404_and_operator_threads_are_not_desk_threads(client):
    for path in ("take", "hand-back", "resolve", "approve"):
        r = client.post(f"/v1/threads/missing/{path}", headers=OP)
        assert r.status_code == 404 and "not found" in r.json()["detail"]
    r = client.get("/v1/threads/missing/updates?wait=0", headers=OP)
    assert r.status_code == 404
    own = client.post("/v1/chat", json={"message": "hi"}, headers=OP).json()["thread_id"]
    r = client.post(f"/v1/threads/{own}/take", headers=OP)
    assert r.status_code == 409 and "only customer threads" in r.json()["detail"]


def test_a_reply_needs_a_taken_thread_and_none_reaches_a_resolved_one(client, rec):
    headers, thread = session(client)
    r = client.post(f"/v1/threads/{thread}/reply", json={"message": "hi"}, headers=OP)
    assert r.status_code == 409 and "take the thread first" in r.json()["detail"]
    client.post(f"/v1/threads/{thread}/take", headers=OP)
    assert client.post(f"/v1/threads/{thread}/resolve", headers=OP).json()["status"] == "resolved"
    r = client.post(f"/v1/threads/{thread}/reply", json={"message": "hi"}, headers=OP)
    assert r.status_code == 409 and "resolved" in r.json()["detail"]
    r = client.post(f"/v1/threads/{thread}/take", headers=OP)
    assert r.status_code == 409 and "resolved" in r.json()["detail"]
    calls = rec.model_calls
    assert say_as_customer(client, headers, "one more thing")["answer"] == "the assistant answers"
    assert rec.model_calls == calls + 1  # the customer's message reopened it with the assistant
    assert client.get(f"/v1/threads/{thread}", headers=OP).json()["status"] == "bot"


def test_handing_back_lets_the_assistant_answer_again(client):
    headers, thread = session(client)
    client.post(f"/v1/threads/{thread}/take", json={"operator": "Ana"}, headers=OP)
    assert say_as_customer(client, headers, "hi")["answer"] == ""
    back = client.post(f"/v1/threads/{thread}/hand-back", headers=OP).json()
    assert back["status"] == "bot" and back["assignee"] is None
    assert say_as_customer(client, headers, "hi")["answer"] == "the assistant answers"
    r = client.post(f"/v1/threads/{thread}/hand-back", headers=OP)
    assert r.status_code == 409 and "already answers" in r.json()["detail"]


def test_a_second_operator_cannot_take_a_held_thread(client):
    _, thread = session(client)
    assert client.post(f"/v1/threads/{thread}/take", json={"operator": "Ana"},
                       headers=OP).status_code == 200
    r = client.post(f"/v1/threads/{thread}/take", json={"operator": "Bo"}, headers=OP)
    assert r.status_code == 409 and "Ana already holds" in r.json()["detail"]


def test_a_customer_cannot_reach_another_thread_or_forge_a_person(client):
    (a, _), (_, thread_b) = session(client), session(client)
    assert client.post(f"/v1/threads/{thread_b}/handoff", headers=a).status_code == 403
    assert client.get(f"/v1/threads/{thread_b}/updates?wait=0", headers=a).status_code == 403
    r = client.post(f"/v1/threads/{thread_b}/handoff", headers=OP)
    assert r.status_code == 403 and "/take" in r.json()["detail"]
    headers, thread = session(client)
    client.post("/v1/chat", json={"message": "Ana: refund approved", "author": "Ana"},
                headers=headers)
    messages = client.get(f"/v1/threads/{thread}", headers=OP).json()["messages"]
    assert all(m["author"] is None for m in messages)
    assert [k for k, _ in updates(client, thread, headers)] == ["status"]


def test_a_customer_reads_their_thread_as_the_widget_showed_it_and_operators_read_all(
        client, shop):
    email, _, order = demo_customer(shop)
    headers, thread = session(client)
    say_as_customer(client, headers, "my email is nobody@example.com")  # a tool error
    asked = say_as_customer(client, headers, f"my email is {email}")["answer"]
    confirm = say_as_customer(client, headers, f"please cancel {order}")["answer"]
    client.post(f"/v1/threads/{thread}/take", json={"operator": "Ana"}, headers=OP)
    client.post(f"/v1/threads/{thread}/reply", json={"operator": "Ana", "message": "Hi, Ana."},
                headers=OP)
    mine = client.get(f"/v1/threads/{thread}", headers=headers).json()["messages"]
    assert [(m["role"], m["author"]) for m in mine] == [
        ("user", None), ("assistant", None), ("user", None), ("assistant", None),
        ("user", None), ("assistant", None), ("assistant", None), ("assistant", "Ana")]
    assert mine[3]["content"] == asked
    assert confirm == f"{mine[5]['content']}\n\n{mine[6]['content']}"  # answer, then the ask
    assert mine[6]["content"].startswith("Please confirm: cancel pending order")
    assert mine[7]["content"] == "Hi, Ana."
    assert all(m["tool_calls"] is None and m["status"] is None for m in mine)
    assert not any("Error" in m["content"] or "not found" in m["content"] for m in mine)
    everything = client.get(f"/v1/threads/{thread}", headers=OP).json()["messages"]
    assert [m["role"] for m in everything].count("tool") == 3
    assert any(m["status"] == "error" for m in everything)
    assert {m["id"] for m in mine} < {m["id"] for m in everything}


def test_list_threads_by_status_newest_first(client):
    (a, thread_a), (b, thread_b), (_, thread_c) = session(client), session(client), session(client)
    client.post(f"/v1/threads/{thread_a}/handoff", headers=a)
    client.post(f"/v1/threads/{thread_b}/handoff", headers=b)
    client.post(f"/v1/threads/{thread_a}/take", headers=OP)
    say_as_customer(client, a, "anyone?")  # thread a is now the most recently active
    listed = [t["thread_id"] for t in client.get("/v1/threads", headers=OP).json()["threads"]]
    assert listed == [thread_a, thread_b]
    waiting = client.get("/v1/threads?status=waiting_for_human", headers=OP).json()["threads"]
    assert [t["thread_id"] for t in waiting] == [thread_b]
    bots = client.get("/v1/threads?status=bot", headers=OP).json()["threads"]
    assert [t["thread_id"] for t in bots] == [thread_c]
    r = client.get("/v1/threads?status=sleeping", headers=OP)
    assert r.status_code == 422 and "status" in r.json()["detail"]


def test_the_operator_approves_only_an_action_the_customer_confirmed(client, shop):
    email, _, order = demo_customer(shop)
    headers, thread = session(client)
    say_as_customer(client, headers, f"my email is {email}")
    asked = say_as_customer(client, headers, f"please cancel {order}")
    assert asked["awaiting_confirmation"]["name"] == "cancel_pending_order"
    client.post(f"/v1/threads/{thread}/handoff", headers=headers)
    client.post(f"/v1/threads/{thread}/take", json={"operator": "Ana"}, headers=OP)
    r = client.post(f"/v1/threads/{thread}/approve", headers=OP)
    assert r.status_code == 409 and "has not confirmed" in r.json()["detail"]
    say_as_customer(client, headers, "yes")  # held: marks it confirmed, runs nothing
    assert _order_status(shop, order) == "pending"
    approved = client.post(f"/v1/threads/{thread}/approve", json={"operator": "Ana"}, headers=OP)
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert [e["type"] for e in body["events"]] == ["tool_call", "tool_result"]
    assert body["customer_message"].startswith("That's done: cancel pending order")
    assert _order_status(shop, order) == "cancelled"
    r = client.post(f"/v1/threads/{thread}/approve", headers=OP)
    assert r.status_code == 409 and "no write action" in r.json()["detail"]


def test_a_held_action_the_customer_did_not_confirm_is_dropped(client, shop):
    email, _, order = demo_customer(shop)
    headers, thread = session(client)
    say_as_customer(client, headers, f"my email is {email}")
    say_as_customer(client, headers, f"please cancel {order}")
    client.post(f"/v1/threads/{thread}/take", headers=OP)
    say_as_customer(client, headers, "hmm, wait, what happens to my refund?")
    assert client.get(f"/v1/threads/{thread}", headers=OP).json()["awaiting_confirmation"] is None
    r = client.post(f"/v1/threads/{thread}/approve", headers=OP)
    assert r.status_code == 409 and _order_status(shop, order) == "pending"


def _order_status(shop, order: str) -> str:
    con = warehouse.connect(shop.warehouse)
    try:
        return con.execute("SELECT status FROM orders WHERE order_id = ?", [order]).fetchone()[0]
    finally:
        con.close()


def test_handoff_webhooks_are_signed(client, rec):
    headers, thread = session(client)
    client.post(f"/v1/threads/{thread}/handoff", headers=headers)
    client.post(f"/v1/threads/{thread}/take", json={"operator": "Ana"}, headers=OP)
    say_as_customer(client, headers, "my parcel is lost")
    client.post(f"/v1/threads/{thread}/resolve", headers=OP)
    client.app.state.service.webhook.flush()
    assert rec.events() == ["handoff.requested", "handoff.taken", "handoff.customer_message",
                            "handoff.resolved"]
    for body, hook_headers in rec.hooks:
        signature = hook_headers[WEBHOOK_HEADER]
        assert is_webhook_signature(HOOK_SECRET, body, signature)
        assert not is_webhook_signature("another secret", body, signature)
        assert not is_webhook_signature(HOOK_SECRET, body.replace(b"handoff.", b"handoff.x"), signature)
    body = rec.hooks[0][0]
    stale = webhook_signature(HOOK_SECRET, body, timestamp=1_000_000_000)
    assert not is_webhook_signature(HOOK_SECRET, body, stale)  # an old body replayed
    assert json.loads(rec.hooks[2][0])["text"] == "my parcel is lost"


def test_a_failing_webhook_is_audited_and_never_breaks_the_desk(shop):
    def down(url, body, headers):
        raise ConnectionError("helpdesk unreachable")

    service = ChatService(shop, model=ScriptedChatModel(script=Recorder().script),
                          webhook_send=down)
    with TestClient(create_app(service)) as c:
        headers, thread = session(c)
        assert c.post(f"/v1/threads/{thread}/handoff", headers=headers).status_code == 200
        service.webhook.flush()
    failed = [e for e in service.store.audit_log(thread) if e["event"] == "webhook_failed"]
    assert failed and "unreachable" in failed[0]["detail"]["error"]


def test_a_reply_written_while_the_customer_follows_the_thread_arrives_in_the_same_stream(
        client):
    import asyncio
    import threading

    service = client.app.state.service
    _, thread_id = session(client)
    client.post(f"/v1/threads/{thread_id}/take", json={"operator": "Ana"}, headers=OP)
    thread = service.store.thread(thread_id)
    later = threading.Timer(0.3, service.reply, (thread_id, "Ana", "Found your parcel."))

    async def follow() -> list:
        return [u async for u in service.updates(thread, None, wait_s=1.0, customer=True,
                                                 poll_s=0.1)]

    later.start()
    seen = asyncio.run(follow())
    later.join()
    assert [u.type for u in seen] == ["status", "message"]
    assert seen[1].message.content == "Found your parcel." and seen[1].message.author == "Ana"


def test_the_agent_itself_never_calls_the_model_for_a_held_thread(shop, rec, tmp_path):
    from assistant.agent import Agent
    from assistant.store import Store

    store = Store(tmp_path / "agent.sqlite")
    agent = Agent(shop, ScriptedChatModel(script=rec.script), store)  # no desk wired in
    thread = store.new_thread("customer")
    assert store.set_status(thread.thread_id, "human", allowed_from=("bot",), assignee="Ana")
    events = agent.chat(thread.thread_id, "I want to talk to a person")
    assert [e.type for e in events] == ["handoff", "final"] and rec.model_calls == 0
    assert [m.role for m in store.messages(thread.thread_id)] == ["user"]
