"""The dialog artifact served by vLLM (scripts/vllm_cpu.sh, or `vllm serve` on a GPU) answers
with parsed tool calls; the wire format we send it is what the OpenAI API expects."""

from __future__ import annotations

import json
import os

import pytest

from assistant.backends.openai_compat import wire_messages

VLLM_URL = os.environ.get("SHOPMIND_TEST_VLLM_URL")


def test_calls_in_the_history_go_over_the_wire_as_json_strings_paired_with_their_results():
    history = [{"role": "user", "content": "Where is #W1?"},
               {"role": "assistant", "content": "", "tool_calls": [
                   {"type": "function", "function": {"name": "get_order_details",
                                                     "arguments": {"order_id": "#W1"}}}]},
               {"role": "tool", "content": "{}"}]
    sent = wire_messages(history)
    call = sent[1]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"order_id": "#W1"}
    assert sent[2]["tool_call_id"] == call["id"]
    assert history[1]["tool_calls"][0]["function"]["arguments"] == {"order_id": "#W1"}  # untouched


@pytest.mark.skipif(not VLLM_URL, reason="no vLLM server: start `bash scripts/vllm_cpu.sh "
                    "ARTIFACT 8000` and set SHOPMIND_TEST_VLLM_URL=http://127.0.0.1:8000/v1")
def test_vllm_serves_the_artifact_with_parsed_tool_calls():
    from assistant.backends.openai_compat import OpenAIBackend
    from assistant.backends.types import ChatRequest
    from tools.registry import role_tools

    reply = OpenAIBackend(VLLM_URL).chat(ChatRequest(
        messages=[{"role": "user", "content": "What is the return policy?"}],
        tools=role_tools("customer"), max_tokens=64))
    assert reply.tool_calls and reply.tool_calls[0]["function"]["name"] == "search_knowledge"
