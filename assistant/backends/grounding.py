"""Identifiers are copied from the conversation, never invented.

A small model that picks the wrong tool usually has to invent the tool's identifier: asked "how
many customers have at least three orders?" it calls ``get_user_profile(user_id="max_orders")``.
Grounding removes that choice at decode time, on top of the JSON grammar (``constrain.py``):

- an identifier argument (``ID_ARGUMENTS``) can only take a value that occurs in the
  conversation: in a user message, a tool result or an earlier call (an e-mail for ``email``;
  for the others a token that contains a digit, with a leading ``#`` or without);
- an identifier argument with no such value cannot be written at all, and a tool that requires
  one cannot be called ("what is the status of my order?" with no order number in sight is
  answered in words: the model asks for it).

The mask works on the text of the call generated so far: a tiny JSON scanner knows whether the
next token would extend the tool name, an argument name, or an identifier's value, and only
tokens that keep that string a prefix of an allowed one survive. The system prompt is not a
source (its examples are not the customer's ids).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import torch

ID_ARGUMENTS = {"user_id", "order_id", "product_id", "payment_method_id", "email", "zip"}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TOKEN = re.compile(r"[A-Za-z0-9_#@.+-]+")


def _conversation_text(messages: list[dict[str, Any]]) -> str:
    parts = []
    for message in messages:
        if message.get("role") == "system":
            continue
        parts.append(str(message.get("content") or ""))
        for call in message.get("tool_calls") or []:
            arguments = call.get("function", {}).get("arguments", "")
            parts.append(arguments if isinstance(arguments, str) else json.dumps(arguments))
    return "\n".join(parts)


def identifier_values(messages: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The values each identifier argument may take in this conversation."""
    text = _conversation_text(messages)
    emails = set(_EMAIL.findall(text))
    ids: set[str] = set()
    for token in _TOKEN.findall(text):
        token = token.strip(".-+")
        if any(c.isdigit() for c in token) and "@" not in token:
            ids.update({token, token.lstrip("#")} - {""})
    return {name: (emails if name == "email" else ids) for name in ID_ARGUMENTS}


@dataclass(frozen=True)
class _Scan:
    """Where the generated call text stands: container stack, current string, chosen tool."""

    stack: tuple[str, ...] = ()  # "{" / "[" per open container
    keys: tuple[str | None, ...] = ()  # per open object: the key whose value comes next
    expect_key: bool = False
    in_string: bool = False
    is_key: bool = False
    escape: bool = False
    buf: str = ""
    tool: str | None = None


class Grounding:
    """Allowed tool names, argument names and identifier values for one request."""

    def __init__(self, tools: list[dict[str, Any]], messages: list[dict[str, Any]]):
        values = identifier_values(messages)
        self.values = {name: sorted(v) for name, v in values.items()}
        self.keys: dict[str, list[str]] = {}
        self.names: list[str] = []
        for tool in tools:
            fn = tool.get("function", tool)
            params = fn.get("parameters") or {}
            props = list(params.get("properties") or {})
            missing = {p for p in props if p in ID_ARGUMENTS and not values[p]}
            if missing & set(params.get("required") or []):
                continue  # a required identifier nobody gave: the tool cannot be called
            self.names.append(fn["name"])
            self.keys[fn["name"]] = [p for p in props if p not in missing]

    def allowed(self, scan: _Scan) -> list[str] | None:
        """The strings the current string may become, or None when it is free text."""
        if not scan.in_string:
            return None
        depth = len(scan.stack)
        if depth == 1 and not scan.is_key and scan.keys[-1] == "name":
            return self.names
        if depth == 2 and scan.keys[0] == "arguments" and scan.tool in self.keys:
            if scan.is_key:
                return self.keys[scan.tool]
            if scan.keys[-1] in ID_ARGUMENTS:
                return self.values[scan.keys[-1]]
        return None

    def feed(self, scan: _Scan, text: str, check: bool = True) -> _Scan | None:
        """``scan`` after ``text``; None if ``check`` and ``text`` leaves an allowed set."""
        for char in text:
            scan = self._char(scan, char, check)
            if scan is None:
                return None
        return scan

    def _char(self, scan: _Scan, char: str, check: bool) -> _Scan | None:
        if scan.in_string:
            allowed = self.allowed(scan) if check else None
            if char == "\\" and not scan.escape:  # identifiers hold no escapes
                return None if allowed is not None else replace(scan, escape=True)
            if char == '"' and not scan.escape:
                if allowed is not None and scan.buf not in allowed:
                    return None
                return self._close_string(scan)
            buf = scan.buf + char
            if allowed is not None and not any(a.startswith(buf) for a in allowed):
                return None
            return replace(scan, buf=buf, escape=False)
        if char == '"':
            return replace(scan, in_string=True, is_key=scan.expect_key, buf="")
        if char in "{[":
            return replace(scan, stack=scan.stack + (char,), keys=scan.keys + (None,),
                           expect_key=char == "{")
        if char in "}]":
            return replace(scan, stack=scan.stack[:-1], keys=scan.keys[:-1], expect_key=False)
        if char == "," and scan.stack and scan.stack[-1] == "{":
            return replace(scan, expect_key=True)
        return scan

    @staticmethod
    def _close_string(scan: _Scan) -> _Scan:
        scan = replace(scan, in_string=False, escape=False)
        if scan.is_key:
            return replace(scan, keys=scan.keys[:-1] + (scan.buf,), expect_key=False,
                           is_key=False)
        if len(scan.stack) == 1 and scan.keys[-1] == "name":
            return replace(scan, tool=scan.buf)
        return scan


@lru_cache(maxsize=4)
def _token_texts(tokenizer: Any) -> tuple[list[str], dict[str, list[int]], torch.Tensor]:
    """Each token id's text, ids by text, and the ids whose text holds a quote (these can
    open or close a string, so they are always checked by scanning)."""
    texts = [""] * len(tokenizer)
    for token, token_id in tokenizer.get_vocab().items():
        if token_id < len(texts):
            texts[token_id] = tokenizer.convert_tokens_to_string([token])
    by_text: dict[str, list[int]] = {}
    for token_id, text in enumerate(texts):
        by_text.setdefault(text, []).append(token_id)
    quoted = torch.tensor([i for i, text in enumerate(texts) if '"' in text or "\\" in text],
                          dtype=torch.long)
    return texts, by_text, quoted


@dataclass
class GroundedCall:
    """The grounding mask of one tool call being generated (after ``<tool_call>``)."""

    grounding: Grounding
    tokenizer: Any
    scan: _Scan = field(default_factory=_Scan)

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        """``logits`` (already grammar-masked) without the tokens that would break grounding;
        unchanged if that would leave nothing (the grammar wins and the tool's own validation
        reports the value)."""
        texts, by_text, quoted = _token_texts(self.tokenizer)
        is_open = logits > float("-inf")
        allowed = self.grounding.allowed(self.scan)
        if allowed is None:  # free text: only a token with a quote can enter a grounded string
            risky = quoted[is_open[quoted]].tolist()
            rejected = [i for i in risky if self.grounding.feed(self.scan, texts[i]) is None]
            if not rejected or len(rejected) == int(is_open.sum()):
                return logits
            masked = logits.clone()
            masked[rejected] = float("-inf")
            return masked
        candidates = set(quoted[is_open[quoted]].tolist())
        for value in allowed:
            if value.startswith(self.scan.buf):
                rest = value[len(self.scan.buf):]
                for end in range(1, len(rest) + 1):
                    candidates.update(i for i in by_text.get(rest[:end], ()) if is_open[i])
        keep = [i for i in candidates if self.grounding.feed(self.scan, texts[i]) is not None]
        if not keep:
            return logits
        masked = torch.full_like(logits, float("-inf"))
        index = torch.tensor(keep, dtype=torch.long)
        masked[index] = logits[index]
        return masked

    def advance(self, token_id: int) -> None:
        texts, _, _ = _token_texts(self.tokenizer)
        self.scan = self.grounding.feed(self.scan, texts[token_id], check=False)
