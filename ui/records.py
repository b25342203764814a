"""How the console shows records: a tool result as a JSON block, and a customer's profile and
customer-service record read without the model (the User look-up tab and the Inbox use both)."""

from __future__ import annotations

import json
from typing import Any

from assistant.api.service import ChatService
from tools.registry import ToolContext, ToolError, get_tool

MAX_SHOWN_CHARS = 3000


def pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, default=str) if not isinstance(value, str) else value
    if len(text) > MAX_SHOWN_CHARS:
        text = text[:MAX_SHOWN_CHARS] + "\n... (truncated)"
    return f"```json\n{text}\n```"


def customer_record(service: ChatService, user_id: str) -> tuple[str, str]:
    """A user's profile and customer-service record as Markdown."""
    ctx = ToolContext(service.settings, role="operator")
    panels = []
    for name in ("get_user_profile", "get_user_details"):
        try:
            panels.append(pretty(get_tool(name).invoke(ctx, {"user_id": user_id.strip()})))
        except ToolError as err:
            panels.append(f"{name}: {err}")
    return panels[0], panels[1]
