"""What every chat backend takes and returns: OpenAI-shaped messages and tools in, an
OpenAI-shaped assistant message (or a stream of deltas) out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ToolChoice = Literal["auto", "none", "required"] | dict[str, Any]


class ChatRequest(BaseModel):
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: ToolChoice = "auto"
    max_tokens: int = Field(256, ge=1, le=8192)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[str] = []
    seed: int | None = None
    constrained: bool | None = None  # None = the backend's default


class ChatResult(BaseModel):
    content: str
    tool_calls: list[dict[str, Any]] = []
    finish_reason: Literal["stop", "length", "tool_calls"]
    prompt_tokens: int
    completion_tokens: int
    invalid_tool_calls: list[str] = []  # raw <tool_call> blocks that were not valid JSON

    def message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            out["tool_calls"] = self.tool_calls
        return out


class StreamDelta(BaseModel):
    """One piece of a streamed reply: a content delta, the parsed tool calls (sent once, when
    the reply ends), or the final reason with token counts."""

    content: str = ""
    tool_calls: list[dict[str, Any]] = []
    finish_reason: Literal["stop", "length", "tool_calls"] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
