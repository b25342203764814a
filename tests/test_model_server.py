"""`shopmind serve-model` speaks the OpenAI protocol: the openai client and LangChain's
ChatOpenAI work against it unchanged (tiny random model, in-process HTTP transport)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from assistant.backends.local import LocalBackend
from assistant.model_server.app import create_app
from tests.dialog_samples import BOUNDED

ASK = [{"role": "user", "content": "Turn the alert on, level high."}]
NAMED = {"type": "function", "function": {"name": "set_alert"}}


@pytest.fixture(scope="module")
def http(tiny_dialog_model):
    backend = LocalBackend(tiny_dialog_model, constrained=True)
    return TestClient(create_app(backend, model_name="shopmind-dialog"))


@pytest.fixture(scope="module")
def client(http):
    from openai import OpenAI

    return OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=http)


def test_models_lists_the_served_model(client):
    assert [m.id for m in client.models.list()] == ["shopmind-dialog"]


def test_openai_client_gets_tool_calls(client):
    reply = client.chat.completions.create(model="shopmind-dialog", messages=ASK, tools=BOUNDED,
                                           tool_choice=NAMED, max_tokens=60)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "set_alert" and call.id
    assert set(json.loads(call.function.arguments)) == {"on", "level"}
    assert reply.usage.prompt_tokens > 0


def test_openai_client_streams_content_and_tool_calls(client):
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        messages=ASK, model="shopmind-dialog", max_tokens=8, stream=True, temperature=1.0,
        seed=3))
    assert text
    chunks = list(client.chat.completions.create(
        messages=ASK, model="shopmind-dialog", tools=BOUNDED, tool_choice="required",
        max_tokens=60, stream=True))
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name in {"set_alert", "list_all_product_types"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_choice_none_and_no_tools_give_plain_text(client):
    reply = client.chat.completions.create(model="shopmind-dialog", messages=ASK, tools=BOUNDED,
                                           tool_choice="none", max_tokens=10)
    assert reply.choices[0].message.tool_calls is None
    assert reply.choices[0].finish_reason in {"stop", "length"}


def test_bad_requests_get_400_with_a_message(http):
    bad = http.post("/v1/chat/completions", json={"messages": []})
    assert bad.status_code == 400 and "messages" in bad.json()["error"]["message"]
    named = http.post("/v1/chat/completions", json={
        "messages": ASK, "tools": BOUNDED,
        "tool_choice": {"type": "function", "function": {"name": "drop_tables"}}})
    assert named.status_code == 400 and "drop_tables" in named.json()["error"]["message"]
    streamed = http.post("/v1/chat/completions", json={"messages": ASK, "stream": True,
                                                      "tool_choice": "required"})
    assert streamed.status_code == 400
    other = http.post("/v1/chat/completions", json={"messages": ASK, "model": "gpt-9"})
    assert other.status_code == 400 and "shopmind-dialog" in other.json()["error"]["message"]
    by_path = http.post("/v1/chat/completions", json={
        "messages": ASK, "model": "artifacts/shopmind-dialog", "max_tokens": 2})
    assert by_path.status_code == 200


def test_langchain_chat_openai_binds_tools_against_the_server(http):
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(base_url="http://testserver/v1", api_key="unused",
                       model="shopmind-dialog", http_client=http, max_tokens=60)
    message = model.bind_tools(BOUNDED, tool_choice="set_alert").invoke(ASK[0]["content"])
    assert message.tool_calls[0]["name"] == "set_alert"
    assert set(message.tool_calls[0]["args"]) == {"on", "level"}
