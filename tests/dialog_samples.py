"""Tool schemas and a dialog for the dialog-model tests (format, training, backend, model
server): small, hand-written, independent of the registry."""

from __future__ import annotations

TOOLS = [
    {"type": "function", "function": {
        "name": "get_order_details", "description": "Get an order. Long detail here.",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                       "required": ["order_id"]}}},
    {"type": "function", "function": {
        "name": "predict_behavior", "description": "Predict behaviour.",
        "parameters": {"type": "object", "properties": {
            "user_id": {"type": "string"},
            "event": {"enum": ["purchase", "churn"], "type": "string"},
            "horizon_days": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
            "required": ["user_id"]}}},
]
DIALOG = [
    {"role": "user", "content": "Where is #W1?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
     "function": {"name": "get_order_details", "arguments": '{"order_id": "#W1"}'}}]},
    {"role": "tool", "tool_call_id": "c1", "content": '{"status": "pending"}'},
    {"role": "assistant", "content": "It is pending."},
]
# A random model never closes a free-text string; enums and booleans keep its calls finite.
BOUNDED = [
    {"type": "function", "function": {"name": "set_alert", "description": "Set an alert.",
     "parameters": {"type": "object", "properties": {
         "on": {"type": "boolean"}, "level": {"enum": ["low", "high"], "type": "string"}},
         "required": ["on", "level"]}}},
    {"type": "function", "function": {"name": "list_all_product_types", "description": "List.",
     "parameters": {"type": "object", "properties": {}}}},
]
