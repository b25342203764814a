"""The tool contract in code: every tool is a ToolSpec registered here by name.

A tool family module (``tools/<family>.py``) defines pydantic input models and pure functions
``fn(ctx, args) -> dict`` and registers them with ``@tool(...)``. The agent, the dialog-model
training data and the API all read tools from here, so a tool exists in one place only.

A tool may also give a ``headline(result) -> str``: one or two sentences with the key
facts, put first in the result as ``"headline"``. The dialog model is trained to answer from it
(finetune/dialog/data.py uses the same functions), so a small model quotes the numbers instead
of misreading them from a long JSON; the full result stays there for the UI and for follow-ups.

Errors a caller can fix (unknown user id, bad argument, missing model) are raised as
``ToolError`` with a message that says what to do; the agent sends it back to the model as the
tool result instead of crashing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from knowledge.settings import Settings

Role = Literal["operator", "customer"]

# Modules that register tools when imported. A family adds itself here once it exists.
TOOL_MODULES: list[str] = ["tools.segments", "tools.knowledge", "tools.customer_service", "tools.recommend", "tools.intervention", "tools.behavior", "tools.profile"]


class ToolError(Exception):
    """A problem the caller can fix; the message is shown to the model and the user."""


@dataclass
class ToolContext:
    """Who is calling and with which settings. ``customer_id`` is the authenticated customer
    in a customer conversation (None until they authenticate, and for operators)."""

    settings: Settings
    role: Role = "operator"
    customer_id: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_model: type[BaseModel]
    fn: Callable[[ToolContext, Any], dict]
    roles: frozenset[str]
    writes: bool = False  # write actions need the customer's explicit confirmation first
    headline: Callable[[dict], str] | None = None  # result -> its key facts, in words

    def openai_schema(self) -> dict:
        """The OpenAI/Hermes function schema shown to the model."""
        params = self.input_model.model_json_schema()
        params.pop("title", None)
        for prop in params.get("properties", {}).values():
            prop.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }

    def invoke(self, ctx: ToolContext, arguments: dict | str | None) -> dict:
        """Validate raw arguments (a dict or a JSON string from the model) and run the tool."""
        if ctx.role not in self.roles:
            raise ToolError(f"tool {self.name!r} is not available to the {ctx.role} role")
        try:
            if isinstance(arguments, str):
                args = self.input_model.model_validate_json(arguments or "{}")
            else:
                args = self.input_model.model_validate(arguments or {})
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: "
                f"{e['msg'].removeprefix('Value error, ')}" for e in err.errors()
            )
            raise ToolError(f"invalid arguments for {self.name}: {problems}") from err
        result = self.fn(ctx, args)
        if self.headline is not None and isinstance(result, dict):
            result = {"headline": self.headline(result), **result}
        return result


_REGISTRY: dict[str, ToolSpec] = {}


def tool(name: str, description: str, input_model: type[BaseModel], roles: set[str],
         writes: bool = False, headline: Callable[[dict], str] | None = None) -> Callable:
    """Decorator that registers ``fn(ctx, args) -> dict`` as a tool."""

    def register(fn: Callable[[ToolContext, Any], dict]) -> Callable:
        if name in _REGISTRY:
            raise ValueError(f"tool {name!r} registered twice")
        _REGISTRY[name] = ToolSpec(name, description, input_model, fn, frozenset(roles), writes,
                                   headline)
        return fn

    return register


def _load_all() -> None:
    for module in TOOL_MODULES:
        importlib.import_module(module)


def get_tool(name: str) -> ToolSpec:
    _load_all()
    if name not in _REGISTRY:
        raise ToolError(f"unknown tool {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def tools_for(role: Role) -> list[ToolSpec]:
    _load_all()
    return [spec for spec in _REGISTRY.values() if role in spec.roles]
