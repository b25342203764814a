"""The dialog format shared by training, evaluation and serving: ChatML turns, the tool-call
tokens, the chat template file, and the Hermes parser that turns generated text into OpenAI
``tool_calls``.

The tool tokens are added as *non-special* added tokens (like Qwen2.5 does): each is one id,
yet they survive ``skip_special_tokens=True`` decoding, which vLLM's hermes parser relies on.
"""

from __future__ import annotations

import json
import re
import uuid
from importlib import resources
from typing import Any

from pydantic import BaseModel

TOOL_CALL_START, TOOL_CALL_END = "<tool_call>", "</tool_call>"
TOOL_RESPONSE_START, TOOL_RESPONSE_END = "<tool_response>", "</tool_response>"
TOOL_TOKENS = [TOOL_CALL_START, TOOL_CALL_END, TOOL_RESPONSE_START, TOOL_RESPONSE_END]
END_OF_TURN = "<|im_end|>"

_CALL_RE = re.compile(re.escape(TOOL_CALL_START) + r"(.*?)(?:" + re.escape(TOOL_CALL_END) + r"|$)",
                      re.DOTALL)


def chat_template() -> str:
    return resources.files("finetune.dialog").joinpath("chat_template.jinja").read_text()


def prepare_tokenizer(tokenizer: Any) -> int:
    """Add the tool tokens and install the chat template; returns how many tokens were new."""
    from tokenizers import AddedToken

    missing = [t for t in TOOL_TOKENS if t not in tokenizer.get_vocab()]
    added = tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in missing])
    tokenizer.chat_template = chat_template()
    tokenizer.eos_token = END_OF_TURN
    if tokenizer.pad_token is None:
        tokenizer.pad_token = END_OF_TURN
    return added


class ParsedCall(BaseModel):
    name: str
    arguments: dict[str, Any]


class ParsedReply(BaseModel):
    """Generated text split into what the user sees and the tool calls the model made."""

    content: str
    calls: list[ParsedCall] = []
    invalid: list[str] = []  # raw text of <tool_call> blocks that were not valid JSON calls

    def openai_tool_calls(self) -> list[dict]:
        return [
            {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in self.calls
        ]


def parse_call(raw: str) -> ParsedCall | None:
    try:
        obj = json.loads(raw.strip())
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):  # some models emit the arguments as a JSON string
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    if not isinstance(args, dict):
        return None
    return ParsedCall(name=obj["name"], arguments=args)


def parse_hermes(text: str) -> ParsedReply:
    """Split ``text`` into content (before the first ``<tool_call>``) and parsed calls, the way
    vLLM's hermes parser does; an unterminated last call is parsed up to the end of text."""
    text = text.replace(END_OF_TURN, "")
    start = text.find(TOOL_CALL_START)
    if start < 0:
        return ParsedReply(content=text.strip())
    reply = ParsedReply(content=text[:start].strip())
    for raw in _CALL_RE.findall(text[start:]):
        call = parse_call(raw)
        if call is None:
            reply.invalid.append(raw)
        else:
            reply.calls.append(call)
    return reply
