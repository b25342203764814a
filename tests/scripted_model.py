"""A scripted chat model for tests: NOT a language model.

It answers from a Python function of the conversation so that tests can drive the agent's own
logic (roles, confirmation, authentication, the store, the API, the UI) deterministically. Tests
that use it say so; nothing presents it as the dialog model.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

Script = Callable[[list[BaseMessage]], AIMessage]
_ids = itertools.count(1)


def call(name: str, **args: Any) -> AIMessage:
    """An AI message that calls one tool."""
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{next(_ids)}"}])


def say(text: str) -> AIMessage:
    return AIMessage(content=text)


class ScriptedChatModel(BaseChatModel):
    """Replies with ``script(messages)``; streams text replies word by word. Like a real
    backend it obeys ``tool_choice="none"``: a scripted call then becomes a short text."""

    script: Script
    tool_choice: Any = None

    @property
    def _llm_type(self) -> str:
        return "scripted-test-model"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self.model_copy(update={"tool_choice": kwargs.get("tool_choice")})

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        reply = self.script(messages)
        return say("(answered without tools)") if reply.tool_calls and \
            self.tool_choice == "none" else reply

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages)
        if reply.tool_calls:
            yield ChatGenerationChunk(message=AIMessageChunk(
                content="", tool_call_chunks=[
                    {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"],
                     "index": i} for i, c in enumerate(reply.tool_calls)]))
            return
        words = reply.content.split(" ")
        for i, word in enumerate(words):
            chunk = AIMessageChunk(content=word + (" " if i < len(words) - 1 else ""))
            if run_manager:
                run_manager.on_llm_new_token(chunk.content, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)
