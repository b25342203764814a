"""REST API: auth, sessions, chat (JSON and SSE), threads, events, health, errors, rate limit.

The dialog model is a SCRIPTED test model (tests/scripted_model.py), not a language model: these
tests check the HTTP layer and the access rules around the agent.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import HumanMessage, ToolMessage
from scripted_model import ScriptedChatModel, call, say

from assistant.api.app import create_app
from assistant.api.service import ChatService
from knowledge import warehouse
from tests.shops import private_copy

TOKEN = "test-operator-token"


def script(messages):
    """Looks up an email or an order named in the last user message, then reports the result."""
    last = messages[-1]
    if isinstance(last, ToolMessage):
        return say(f"result: {last.content[:200]}")
    text = last.content if isinstance(last, HumanMessage) else ""
    if "@" in text:
        return call("find_user_id_by_email", email=text.split()[-1])
    if "#W" in text:
        return call("get_order_details", order_id=text[text.index("#W"):].split()[0])
    return say("Hello! How can I help?")


@pytest.fixture
def shop(cs_shop, tmp_path):
    return private_copy(cs_shop, tmp_path, warehouse_dir=tmp_path, operator_token=TOKEN,
                        session_secret="s3cret")


@pytest.fixture
def client(shop):
    service = ChatService(shop, model=ScriptedChatModel(script=script))
    with TestClient(create_app(service)) as c:
        yield c


@pytest.fixture
def two_customers(shop):
    con = warehouse.connect(shop.warehouse)
    rows = con.execute("SELECT u.email, min(o.order_id) FROM users u JOIN orders o USING (user_id) "
                       "GROUP BY u.email ORDER BY u.email LIMIT 2").fetchall()
    con.close()
    return rows


OP = {"Authorization": f"Bearer {TOKEN}"}


def _session(client) -> dict:
    body = client.post("/v1/sessions").json()
    return {"X-Session": body["session"], "thread": body["thread_id"]}


def test_health_and_openapi(client):
    assert client.get("/health").json()["status"] == "ok"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/chat", "/v1/chat/stream", "/v1/threads/{thread_id}", "/v1/events",
            "/v1/sessions", "/health"} <= set(paths)


def test_requests_without_credentials_are_401(client):
    r = client.post("/v1/chat", json={"message": "hi"})
    assert r.status_code == 401 and "not authenticated" in r.json()["detail"]
    r = client.post("/v1/chat", json={"message": "hi"}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "invalid operator token" in r.json()["detail"]
    r = client.post("/v1/chat", json={"message": "hi"}, headers={"X-Session": "forged"})
    assert r.status_code == 401 and "invalid customer session" in r.json()["detail"]


def test_bad_bodies_are_422_with_the_field_named(client):
    r = client.post("/v1/chat", json={"text": "hi"}, headers=OP)
    assert r.status_code == 422 and "body.message: Field required" in r.json()["detail"]
    r = client.post("/v1/chat", json={"message": ""}, headers=OP)
    assert r.status_code == 422 and "at least 1 character" in r.json()["detail"]
    r = client.post("/v1/events", json={"user_id": "u1", "product_id": "p", "event_type": "buy"},
                    headers=OP)
    assert r.status_code == 422 and "event_type" in r.json()["detail"]


def test_customer_signs_in_and_reads_own_order_only(client, two_customers):
    (email_a, order_a), (_, order_b) = two_customers
    s = _session(client)
    headers = {"X-Session": s["X-Session"]}
    r = client.post("/v1/chat", json={"message": f"my email is {email_a}"}, headers=headers)
    assert r.status_code == 200 and r.json()["thread_id"] == s["thread"]
    assert client.post("/v1/chat", json={"message": f"status of {order_a}"},
                       headers=headers).json()["answer"].startswith("result: {")
    answer = client.post("/v1/chat", json={"message": f"status of {order_b}"},
                         headers=headers).json()["answer"]
    assert answer.startswith("Sorry, I couldn't find that order on your account.")
    thread = client.get(f"/v1/threads/{s['thread']}", headers=OP).json()
    assert thread["customer_id"] and len(thread["messages"]) == 12
    refused = thread["messages"][-2]  # the tool's real error, kept in the thread for operators
    assert refused["status"] == "error"
    assert "not found among the signed-in customer's orders" in refused["content"]
    mine = client.get(f"/v1/threads/{s['thread']}", headers=headers).json()["messages"]
    assert [m["role"] for m in mine] == ["user", "assistant"] * 3
    assert mine[-1]["content"] == answer  # what the customer read, not the tool's error


def test_customer_cannot_read_or_write_another_thread(client):
    a, b = _session(client), _session(client)
    r = client.get(f"/v1/threads/{b['thread']}", headers={"X-Session": a["X-Session"]})
    assert r.status_code == 403
    r = client.post("/v1/chat", json={"message": "hi", "thread_id": b["thread"]},
                    headers={"X-Session": a["X-Session"]})
    assert r.status_code == 403
    assert client.get(f"/v1/threads/{b['thread']}", headers=OP).status_code == 200


def test_customer_cannot_ingest_events(client):
    s = _session(client)
    r = client.post("/v1/events", json={"user_id": "u1", "product_id": "p", "event_type": "view"},
                    headers={"X-Session": s["X-Session"]})
    assert r.status_code == 403


def test_operator_chat_continues_a_thread_and_404s_unknown_ones(client):
    first = client.post("/v1/chat", json={"message": "hello"}, headers=OP).json()
    again = client.post("/v1/chat", json={"message": "hello again",
                                          "thread_id": first["thread_id"]}, headers=OP).json()
    assert again["thread_id"] == first["thread_id"]
    r = client.post("/v1/chat", json={"message": "x", "thread_id": "missing"}, headers=OP)
    assert r.status_code == 404 and "not found" in r.json()["detail"]


def test_sse_streams_tool_events_tokens_and_final(client, two_customers):
    (email_a, _), _ = two_customers
    s = _session(client)
    with client.stream("POST", "/v1/chat/stream", json={"message": f"I am {email_a}"},
                       headers={"X-Session": s["X-Session"]}) as r:
        assert r.status_code == 200
        kinds = [line.split(":", 1)[1].strip() for line in r.iter_lines()
                 if line.startswith("event:")]
    assert kinds[:2] == ["tool_call", "tool_result"] and "token" in kinds and kinds[-1] == "final"


def test_events_are_ingested_into_the_warehouse(client, shop):
    con = warehouse.connect(shop.warehouse)
    product = con.execute("SELECT product_id, category FROM products LIMIT 1").fetchone()
    con.close()
    r = client.post("/v1/events", headers=OP, json={
        "user_id": "new_visitor", "product_id": product[0], "event_type": "cart",
        "ts": "2026-11-01T10:00:00+01:00"})
    assert r.status_code == 200 and r.json()["category"] == product[1]
    con = warehouse.connect(shop.warehouse)
    row = con.execute("SELECT event_type, ts FROM events WHERE user_id = 'new_visitor'").fetchone()
    con.close()
    assert row[0] == "cart" and row[1].hour == 9
    r = client.post("/v1/events", headers=OP, json={"user_id": "u", "product_id": "nope",
                                                     "event_type": "view"})
    assert r.status_code == 404 and "not in the catalogue" in r.json()["detail"]


def test_rate_limit_is_per_client(client):
    codes = [client.post("/v1/sessions").status_code for _ in range(25)]
    assert codes.count(200) == 20 and codes[-1] == 429
    assert "too many requests" in client.post("/v1/sessions").json()["detail"]
    assert client.post("/v1/chat", json={"message": "hi"}, headers=OP).status_code == 200


def test_audit_log_of_a_conversation_is_masked(client, two_customers, shop):
    (email_a, _), _ = two_customers
    s = _session(client)
    client.post("/v1/chat", json={"message": f"I am {email_a}"}, headers={"X-Session": s["X-Session"]})
    service = client.app.state.service
    log = json.dumps(service.store.audit_log(s["thread"]))
    assert email_a not in log and "find_user_id_by_email" in log


def test_a_missing_dialog_model_is_a_clear_503(shop):
    def no_model(settings):
        raise FileNotFoundError("dialog model artifacts/dialog/quick not found; build it")

    with TestClient(create_app(ChatService(shop, model_factory=no_model))) as c:
        assert c.get("/health").status_code == 200
        r = c.post("/v1/chat", json={"message": "hi"}, headers=OP)
        assert r.status_code == 503 and "dialog model" in r.json()["detail"]
        r = c.post("/v1/chat/stream", json={"message": "hi"}, headers=OP)
        assert r.status_code == 503


def test_a_shop_backend_can_open_a_session_already_bound_to_its_customer(client, shop):
    con = warehouse.connect(shop.warehouse)
    user_id, order = con.execute("SELECT user_id, min(order_id) FROM orders GROUP BY user_id "
                                 "ORDER BY user_id LIMIT 1").fetchone()
    con.close()
    r = client.post("/v1/sessions", json={"customer_id": user_id})
    assert r.status_code == 403 and "operator token" in r.json()["detail"]
    r = client.post("/v1/sessions", json={"customer_id": "nobody"}, headers=OP)
    assert r.status_code == 404 and "not a user" in r.json()["detail"]
    session = client.post("/v1/sessions", json={"customer_id": user_id}, headers=OP).json()
    answer = client.post("/v1/chat", json={"message": f"status of {order}"},
                         headers={"X-Session": session["session"]}).json()["answer"]
    assert answer.startswith("result: {") and f"Order {order}," in answer  # theirs only


def test_the_server_mounts_the_widget_and_the_console_on_the_rest_api(shop):
    from assistant.serve import build_app

    service = ChatService(shop, model=ScriptedChatModel(script=script))
    with TestClient(create_app(service)) as rest:
        assert rest.get("/widget/widget.js").status_code == 404  # the REST app alone
    with TestClient(build_app(service), follow_redirects=False) as c:
        assert c.get("/").headers["location"] == "/console/"
        assert c.get("/demo").headers["location"] == "/widget/demo_shop.html"
        assert "shopmind" in c.get("/widget/widget.js").text
        assert c.get("/console/").status_code == 200
        assert c.get("/health").json()["status"] == "ok"
