"""Any OpenAI-compatible endpoint (vLLM, `shopmind serve-model`) behind the same ``chat``
interface as the in-process backend, for evaluation and benchmarks."""

from __future__ import annotations

import json

from assistant.backends.types import ChatRequest, ChatResult


def wire_messages(messages: list[dict]) -> list[dict]:
    """Messages as the OpenAI API wants them: a tool call's arguments as a JSON string and
    every call and tool result paired by id (our evaluation files may leave both out)."""
    out, open_ids = [], []
    for number, message in enumerate(messages):
        calls = message.get("tool_calls")
        if calls:
            calls = [{**c, "id": c.get("id") or f"call_{number}_{i}", "function": {
                **c["function"], "arguments": c["function"]["arguments"]
                if isinstance(c["function"]["arguments"], str)
                else json.dumps(c["function"]["arguments"])}} for i, c in enumerate(calls)]
            message, open_ids = {**message, "tool_calls": calls}, [c["id"] for c in calls]
        elif message.get("role") == "tool" and not message.get("tool_call_id"):
            message = {**message, "tool_call_id": open_ids.pop(0) if open_ids else "call_0"}
        out.append(message)
    return out


class OpenAIBackend:
    def __init__(self, base_url: str, model: str | None = None, api_key: str = "not-needed"):
        """``model`` None: the first model the endpoint lists."""
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key)
        self.name = model or self.client.models.list().data[0].id

    def chat(self, request: ChatRequest) -> ChatResult:
        extra = {"tools": request.tools, "tool_choice": request.tool_choice} if request.tools \
            else {}
        reply = self.client.chat.completions.create(
            model=self.name, messages=wire_messages(request.messages), max_tokens=request.max_tokens,
            temperature=request.temperature, top_p=request.top_p, stop=request.stop or None,
            seed=request.seed, **extra)
        choice = reply.choices[0]
        calls = [c.model_dump() for c in choice.message.tool_calls or []]
        usage = reply.usage
        return ChatResult(
            content=choice.message.content or "", tool_calls=calls,
            finish_reason=choice.finish_reason if choice.finish_reason in
            ("stop", "length", "tool_calls") else "stop",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )
