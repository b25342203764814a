"""The in-process backend on a tiny random model: tool_choice, grammar constraint, streaming,
the prefix cache, and the LangChain wrapper that make_chat_model returns."""

from __future__ import annotations

import json

import pytest

from assistant.backends.local import BackendError, LocalBackend
from assistant.backends.types import ChatRequest
from tests.dialog_samples import BOUNDED, TOOLS

ASK = [{"role": "user", "content": "How likely is user 17850 to buy?"}]


@pytest.fixture(scope="module")
def backend(tiny_dialog_model):
    return LocalBackend(tiny_dialog_model, constrained=True)


def request(**kwargs) -> ChatRequest:
    return ChatRequest(**{"messages": ASK, "tools": TOOLS, "max_tokens": 40, **kwargs})


def test_constrained_required_call_is_valid_json_naming_a_real_tool(backend):
    for seed in range(3):
        result = backend.chat(request(tools=BOUNDED, tool_choice="required", temperature=1.0,
                                      seed=seed, max_tokens=60))
        assert result.finish_reason == "tool_calls", result
        call = result.tool_calls[0]["function"]
        args = json.loads(call["arguments"])
        assert call["name"] in {"set_alert", "list_all_product_types"}
        if call["name"] == "set_alert":
            assert isinstance(args["on"], bool) and args["level"] in {"low", "high"}


def test_named_tool_choice_calls_that_tool(backend):
    choice = {"type": "function", "function": {"name": "set_alert"}}
    result = backend.chat(request(tools=BOUNDED, tool_choice=choice, max_tokens=60))
    assert result.tool_calls[0]["function"]["name"] == "set_alert"
    assert set(json.loads(result.tool_calls[0]["function"]["arguments"])) == {"on", "level"}


def test_tool_choice_none_never_calls(backend):
    for seed in range(3):
        result = backend.chat(request(tool_choice="none", temperature=1.0, seed=seed))
        assert result.tool_calls == [] and "<tool_call>" not in result.content


def test_bad_tool_choice_is_a_clear_error(backend):
    with pytest.raises(BackendError, match="not in `tools`"):
        backend.chat(request(tool_choice={"type": "function", "function": {"name": "nope"}}))
    with pytest.raises(BackendError, match="non-empty `tools`"):
        backend.chat(request(tools=None, tool_choice="required"))


def test_stream_adds_up_to_chat_and_prefix_cache_changes_nothing(backend, tiny_dialog_model):
    req = request(tool_choice="none", max_tokens=15)
    first = backend.chat(req)
    deltas = list(backend.stream(req))  # second run reuses the cached prompt prefix
    assert "".join(d.content for d in deltas).strip() == first.content
    assert deltas[-1].finish_reason == first.finish_reason
    assert deltas[-1].completion_tokens == first.completion_tokens
    assert LocalBackend(tiny_dialog_model).chat(req).content == first.content


def test_stop_sequence_cuts_the_reply(backend):
    sampled = {"tool_choice": "none", "max_tokens": 20, "temperature": 1.0, "seed": 1}
    full = backend.chat(request(**sampled)).content
    assert len(full) > 8
    stop = full[4:8]
    cut = backend.chat(request(**sampled, stop=[stop]))
    assert stop not in cut.content and cut.finish_reason == "stop"


def test_make_chat_model_local_binds_tools_and_returns_tool_calls(settings, tiny_dialog_model):
    from assistant.backends import make_chat_model

    settings.dialog_model = str(tiny_dialog_model)
    settings.dialog_constrained = True  # a setting, not a flag flipped on the cached backend
    model = make_chat_model(settings, max_tokens=60)
    assert model.backend.constrained
    bound = model.bind_tools(BOUNDED, tool_choice="set_alert")
    message = bound.invoke(ASK[0]["content"])
    assert message.tool_calls[0]["name"] == "set_alert"
    chunks = list(bound.stream(ASK[0]["content"]))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert merged.tool_calls[0]["name"] == "set_alert"


def test_make_chat_model_with_backend_url_is_chat_openai(settings):
    from langchain_openai import ChatOpenAI

    from assistant.backends import make_chat_model

    settings.backend_url = "http://127.0.0.1:9/v1"
    assert isinstance(make_chat_model(settings), ChatOpenAI)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_reduced_precision_backends_still_make_valid_calls(tiny_dialog_model, precision):
    reduced = LocalBackend(tiny_dialog_model, constrained=True, precision=precision)
    if precision == "int8":
        assert "quantized" in type(reduced.model.model.layers[0].mlp.down_proj).__module__
    result = reduced.chat(request(tools=BOUNDED, tool_choice="required", max_tokens=60))
    assert result.tool_calls[0]["function"]["name"] in {"set_alert", "list_all_product_types"}


def test_unknown_precision_is_a_clear_error(tiny_dialog_model):
    with pytest.raises(BackendError, match="unknown precision 'fp8'"):
        LocalBackend(tiny_dialog_model, precision="fp8")
