"""Who may call which tool, enforced in code at every call (the prompt only explains it to the
model). What a role is offered is decided once, in ``tools/registry.py`` (``ALLOWED``,
``role_specs``); this module refuses any other call, whatever the model asked for."""

from __future__ import annotations

from tools.registry import ALLOWED, Role, ToolError, ToolSpec


def check_call(role: Role, spec: ToolSpec, args: dict) -> None:
    """Refuse a call the role may not make, whatever the model asked for."""
    if spec.name not in ALLOWED.get(role, set()) or role not in spec.roles:
        raise ToolError(f"tool {spec.name!r} is not available in a {role} conversation")
    if role == "customer" and spec.name == "recommend_products" and args.get("user_id"):
        raise ToolError("customers can search products by query only (no user_id)")
