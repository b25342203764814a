"""Pydantic models of the OpenAI chat-completions wire format (the subset we serve)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.backends.types import ChatRequest, ToolChoice


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = Field(None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    stream: bool = False
    seed: int | None = None
    n: int = Field(1, ge=1, le=1, description="only one choice is generated")

    @field_validator("messages")
    @classmethod
    def _plain_text(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Content given as a list of parts ([{"type": "text", "text": ...}]) -> one string."""
        out = []
        for message in messages:
            if "role" not in message:
                raise ValueError("every message needs a 'role'")
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            out.append({**message, "content": content or ""})
        return out

    def to_backend(self) -> ChatRequest:
        stop = [self.stop] if isinstance(self.stop, str) else (self.stop or [])
        choice = self.tool_choice or ("auto" if self.tools else "none")
        return ChatRequest(
            messages=self.messages, tools=self.tools, tool_choice=choice,
            max_tokens=self.max_completion_tokens or self.max_tokens or 256,
            temperature=self.temperature, top_p=self.top_p, stop=stop, seed=self.seed,
        )


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def envelope(kind: str, cid: str, model: str, choices: list[dict], **extra: Any) -> dict:
    return {"id": cid, "object": kind, "created": int(time.time()), "model": model,
            "choices": choices, **extra}


def error_body(message: str, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}
