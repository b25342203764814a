"""The tool contract in code: every tool is a ToolSpec registered here by name.

A tool family module (``tools/<family>.py``) defines pydantic input models and pure functions
``fn(ctx, args) -> dict`` and registers them with ``@tool(...)``. The agent, the dialog-model
training data and the API all read tools from here, so a tool exists in one place only.

What a conversation of a role is offered is decided here too, once: ``role_specs`` (the tools it
may call: the registry allows the role AND the role's allow-list ``ALLOWED`` names it) and
``role_tools`` (their OpenAI schemas: what the model is served, trained and evaluated on), with
``system_prompt`` (the role's prompt, ``assistant/prompts/ROLE.md``, and the short one training
also uses, ``ROLE_short.md``). The agent enforces the same allow-list at every call
(``assistant/roles.py``).

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
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from knowledge.settings import Settings

Role = Literal["operator", "customer"]
ROLES: tuple[Role, ...] = ("operator", "customer")

# Modules that register tools when imported. A family adds itself here once it exists.
TOOL_MODULES: list[str] = ["tools.segments", "tools.knowledge_search", "tools.customer_service",
                           "tools.recommend", "tools.intervention", "tools.behavior",
                           "tools.profile"]

# Which registered tools each role is offered. A tool module that widens its ``roles`` by mistake
# still cannot reach customers: a tool must be named here as well.
CS_LOOKUPS = {"find_user_id_by_email", "find_user_id_by_name_zip", "get_user_details",
              "get_order_details", "get_product_details", "list_all_product_types", "calculate",
              "think"}
CS_ACTIONS = {"cancel_pending_order", "modify_pending_order_address", "modify_pending_order_items",
              "modify_pending_order_payment", "modify_user_address", "return_delivered_order_items",
              "exchange_delivered_order_items", "transfer_to_human_agents"}
OPERATOR_TOOLS = {"get_user_profile", "predict_behavior", "recommend_products",
                  "suggest_intervention", "query_segment", "search_knowledge"}
ALLOWED: dict[str, set[str]] = {
    "operator": OPERATOR_TOOLS | CS_LOOKUPS,
    "customer": CS_LOOKUPS | CS_ACTIONS | {"recommend_products", "search_knowledge"},
}


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


def role_specs(role: Role) -> list[ToolSpec]:
    """The tools a conversation of this role is offered (and may call)."""
    if role not in ALLOWED:
        raise ToolError(f"unknown role {role!r}; use one of {', '.join(ALLOWED)}")
    return [spec for spec in tools_for(role) if spec.name in ALLOWED[role]]


def role_tools(role: Role) -> list[dict]:
    """What the model is offered in a conversation of this role, as OpenAI function schemas:
    the agent serves exactly these, the dialog training data and the evaluation use them."""
    return [spec.openai_schema() for spec in role_specs(role)]


def system_prompt(role: Role, short: bool = False) -> str:
    """The role's system prompt as written in ``assistant/prompts/``: ``ROLE.md`` (the one the
    agent sends), or ``ROLE_short.md`` (a shorter one the training dialogs also use)."""
    name = f"{role}_short.md" if short else f"{role}.md"
    return resources.files("assistant").joinpath("prompts", name).read_text().strip()


# The short prompts, as the training data draws them (finetune/dialog/data.py).
SHORT_PROMPTS: dict[str, str] = {role: system_prompt(role, short=True) for role in ROLES}
