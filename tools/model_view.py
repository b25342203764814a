"""What the dialog model sees of a tool call's outcome: part of the contract the model is
trained on, beside the tool schemas (tools/registry.py).

The agent (assistant/agent.py) and the training dialogs (finetune/dialog/data.py) both build
tool messages here, so the model is trained on exactly what it is served. The model sees the
start of each result: its "headline" (tools/registry.py) and the first fields, enough for the
ids a next call needs. The UI, the API and the conversation store keep every result whole.
"""

from __future__ import annotations

import json
from typing import Any

TOOL_RESULT_CHARS = 600  # ~200 tokens: a small CPU model's context (and training time) is short
TRUNCATED = " ... (truncated)"

# The result of a write call: the agent holds the call and asks the customer for an explicit
# yes itself; the call runs only after it.
AWAITING_CONFIRMATION = ("Not done yet: this action needs the customer's explicit confirmation. "
                         "The shop now shows them the details and asks them to answer yes.")


def result_text(result: Any) -> str:
    """A tool result as stored and sent: JSON, or the agent's own text as it is."""
    return result if isinstance(result, str) else json.dumps(result, default=str)


def model_view(text: str, limit: int = TOOL_RESULT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + TRUNCATED
