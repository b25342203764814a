"""Who may call which tool, enforced in code (the prompt only explains it to the model).

A tool is offered to a role when the registry allows the role AND the role's allow-list below
names it: a tool module that widens its ``roles`` by mistake still cannot reach customers.
"""

from __future__ import annotations

from tools.registry import Role, ToolError, ToolSpec, tools_for

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


def role_tools(role: Role) -> list[ToolSpec]:
    """The tools a conversation of this role is offered (and may call)."""
    if role not in ALLOWED:
        raise ToolError(f"unknown role {role!r}; use one of {', '.join(ALLOWED)}")
    return [spec for spec in tools_for(role) if spec.name in ALLOWED[role]]


def check_call(role: Role, spec: ToolSpec, args: dict) -> None:
    """Refuse a call the role may not make, whatever the model asked for."""
    if spec.name not in ALLOWED.get(role, set()) or role not in spec.roles:
        raise ToolError(f"tool {spec.name!r} is not available in a {role} conversation")
    if role == "customer" and spec.name == "recommend_products" and args.get("user_id"):
        raise ToolError("customers can search products by query only (no user_id)")
