"""What the widget relies on: sessions of verified customers (the shop's HMAC signature), the
allowed origins (CORS), and behaviour events through a customer session (shopmind.track).

The dialog model is a SCRIPTED test model (tests/scripted_model.py), not a language model.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from scripted_model import ScriptedChatModel, say

from assistant.api.app import create_app
from assistant.api.service import ChatService
from assistant.signing import customer_signature
from knowledge import warehouse
from knowledge.customer_records import demo_customer
from tests.shops import private_copy

TOKEN = "widget-operator-token"
SECRET = "shop-shared-secret"
SHOP_ORIGIN = "https://shop.example.com"


@pytest.fixture
def shop(small_shop, tmp_path):
    return private_copy(small_shop, tmp_path, warehouse_dir=tmp_path, operator_token=TOKEN,
                        session_secret="s3cret", customer_signing_secret=SecretStr(SECRET),
                        cors_origins=[SHOP_ORIGIN], widget_events_per_minute=3)


def _client(shop) -> TestClient:
    return TestClient(create_app(ChatService(shop, model=ScriptedChatModel(
        script=lambda messages: say("hello")))))


@pytest.fixture
def client(shop):
    with _client(shop) as c:
        yield c


@pytest.fixture
def customer(shop) -> str:
    return demo_customer(shop)[1]


def _thread(client, body: dict) -> dict:
    session = body["session"]
    return client.get(f"/v1/threads/{body['thread_id']}", headers={"X-Session": session}).json()


def test_a_signed_customer_is_bound_without_an_email_step(client, customer):
    r = client.post("/v1/sessions", json={"customer_id": customer,
                                          "signature": customer_signature(SECRET, customer)})
    assert r.status_code == 200
    assert _thread(client, r.json())["customer_id"] == customer
    service = client.app.state.service
    assert "customer_verified" in [e["event"] for e in service.store.audit_log(
        r.json()["thread_id"])]


def test_a_forged_or_missing_signature_never_binds(client, customer, shop):
    other = "someone_else"
    for signature in ("0" * 64, customer_signature("wrong secret", customer),
                      customer_signature(SECRET, other)):
        r = client.post("/v1/sessions", json={"customer_id": customer, "signature": signature})
        assert r.status_code == 403 and "signature does not match" in r.json()["detail"]
    r = client.post("/v1/sessions", json={"customer_id": customer})
    assert r.status_code == 403 and "signature" in r.json()["detail"]
    anonymous = client.post("/v1/sessions").json()  # the widget's fallback
    assert _thread(client, anonymous)["customer_id"] is None
    service = client.app.state.service
    bound = service.store._read("SELECT count(*) FROM threads WHERE customer_id IS NOT NULL", ())
    assert bound[0][0] == 0


def test_signatures_are_refused_when_no_secret_is_set(shop, customer):
    with _client(shop.model_copy(update={"customer_signing_secret": None})) as c:
        r = c.post("/v1/sessions", json={"customer_id": customer,
                                         "signature": customer_signature(SECRET, customer)})
    assert r.status_code == 403 and "not enabled" in r.json()["detail"]


def test_a_signed_but_unknown_customer_is_404(client):
    r = client.post("/v1/sessions", json={"customer_id": "nobody",
                                          "signature": customer_signature(SECRET, "nobody")})
    assert r.status_code == 404 and "not a user" in r.json()["detail"]


def test_cors_allows_only_the_shops_origins(client):
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "X-Session"}
    ok = client.options("/v1/chat", headers={"Origin": SHOP_ORIGIN, **preflight})
    assert ok.headers.get("access-control-allow-origin") == SHOP_ORIGIN
    other = client.options("/v1/chat", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers


def _signed_session(client, customer: str) -> dict:
    body = client.post("/v1/sessions", json={
        "customer_id": customer, "signature": customer_signature(SECRET, customer)}).json()
    return {"X-Session": body["session"]}


def _product(shop) -> str:
    con = warehouse.connect(shop.warehouse)
    try:
        return con.execute("SELECT product_id FROM products ORDER BY product_id LIMIT 1"
                           ).fetchone()[0]
    finally:
        con.close()


def test_a_signed_in_customer_tracks_events_for_themselves_only(client, customer, shop):
    product = _product(shop)
    headers = _signed_session(client, customer)
    r = client.post("/v1/events", json={"product_id": product, "event_type": "view"},
                    headers=headers)
    assert r.status_code == 200 and r.json()["user_id"] == customer
    r = client.post("/v1/events", json={"user_id": "someone_else", "product_id": product,
                                        "event_type": "cart"}, headers=headers)
    assert r.status_code == 403 and "its own customer" in r.json()["detail"]
    con = warehouse.connect(shop.warehouse)
    rows = con.execute("SELECT user_id, event_type FROM events WHERE product_id = ? AND "
                       "user_id IN (?, 'someone_else') AND session_id IS NOT NULL",
                       [product, customer]).fetchall()
    con.close()
    assert rows == [(customer, "view")]


def test_an_anonymous_session_cannot_track_events(client, shop):
    anonymous = {"X-Session": client.post("/v1/sessions").json()["session"]}
    r = client.post("/v1/events", json={"product_id": _product(shop), "event_type": "view"},
                    headers=anonymous)
    assert r.status_code == 403 and "signed-in customer only" in r.json()["detail"]


def test_widget_events_are_rate_limited_per_session(client, customer, shop):
    product = _product(shop)
    headers = _signed_session(client, customer)
    codes = [client.post("/v1/events", json={"product_id": product, "event_type": "view"},
                         headers=headers).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.post("/v1/events", json={"product_id": product, "event_type": "view"},
                    headers=_signed_session(client, customer))
    assert r.status_code == 200  # another session has its own allowance


def test_an_operator_event_still_needs_a_user_id(client, shop):
    r = client.post("/v1/events", json={"product_id": _product(shop), "event_type": "view"},
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 422 and "user_id is required" in r.json()["detail"]
