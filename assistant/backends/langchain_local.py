"""A LangChain chat model over the in-process backend, so the agent code is the same whether
the model runs here or behind an OpenAI-compatible endpoint (ChatOpenAI)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from assistant.backends.local import LocalBackend
from assistant.backends.types import ChatRequest


def _tool_choice(choice: Any) -> Any:
    """LangChain spellings ('any', True, a bare tool name) -> OpenAI tool_choice."""
    if choice in (None, "auto"):
        return "auto"
    if choice in ("any", "required", True):
        return "required"
    if choice == "none":
        return "none"
    if isinstance(choice, str):
        return {"type": "function", "function": {"name": choice}}
    return choice


def _lc_tool_calls(calls: list[dict]) -> list[dict]:
    return [{"name": c["function"]["name"], "args": json.loads(c["function"]["arguments"]),
             "id": c["id"], "type": "tool_call"} for c in calls]


class LocalChatModel(BaseChatModel):
    """``BaseChatModel`` with ``bind_tools`` and streaming, running ``LocalBackend``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: LocalBackend
    max_tokens: int = 256
    temperature: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "shopmind-local"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any):
        schemas = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=schemas, tool_choice=_tool_choice(tool_choice), **kwargs)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None,
                 kwargs: dict[str, Any]) -> ChatRequest:
        return ChatRequest(
            messages=convert_to_openai_messages(messages), tools=kwargs.get("tools") or None,
            tool_choice=kwargs.get("tool_choice") or "auto",
            max_tokens=kwargs.get("max_tokens", self.max_tokens),
            temperature=kwargs.get("temperature", self.temperature), stop=stop or [],
        )

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        result = self.backend.chat(self._request(messages, stop, kwargs))
        usage = {"input_tokens": result.prompt_tokens, "output_tokens": result.completion_tokens,
                 "total_tokens": result.prompt_tokens + result.completion_tokens}
        message = AIMessage(content=result.content, tool_calls=_lc_tool_calls(result.tool_calls),
                            usage_metadata=usage,
                            response_metadata={"finish_reason": result.finish_reason})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for delta in self.backend.stream(self._request(messages, stop, kwargs)):
            chunks = [{"name": c["function"]["name"], "args": c["function"]["arguments"],
                       "id": c["id"], "index": i} for i, c in enumerate(delta.tool_calls)]
            meta = {"finish_reason": delta.finish_reason} if delta.finish_reason else {}
            chunk = ChatGenerationChunk(message=AIMessageChunk(
                content=delta.content, tool_call_chunks=chunks, response_metadata=meta))
            if run_manager and delta.content:
                run_manager.on_llm_new_token(delta.content, chunk=chunk)
            yield chunk
