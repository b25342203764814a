"""Identifiers are copied from the conversation, never invented.

A small model that picks the wrong tool usually has to invent the tool's identifier: asked "how
many customers have at least three orders?" it calls ``get_user_profile(user_id="max_orders")``.
Grounding removes that choice at decode time, on top of the JSON grammar (``constrain.py``):

- an identifier argument (``ID_ARGUMENTS``) can only take a value that occurs in the
  conversation: in a user message, a tool result or an earlier call (an e-mail for ``email``;
  for the others a token that contains a digit, with a leading ``#`` or without);
- an identifier argument with no such value cannot be written at all, and a tool that requires
  one cannot be called ("what is the status of my order?" with no order number in sight is
  answered in words: the model asks for it);
- an id a tool result or an earlier call named as another kind is not a candidate ("#W3761872"
  from a customer's order list is no ``user_id``, a ``gift_card_…`` is no item id, the zip a
  sign-in used is no item id), an order number ("#W…") is only ever an order id (not a payment
  method or an item), and a list of item ids takes item ids, not words ("desk lamp");
- a tool that takes an address can only be called once the user wrote one (a house number and
  a street word, "58 Quarry Hill Road"; "上海市…路…号"): a quick model answered "cancel #W3878528"
  with an address change whose street was the order number;
- a name (``first_name``, ``last_name``) is a word the user wrote, as written or capitalised
  (a quick model signed "Diego Patel" in as "Ilya Patel");
- a numeric argument (``horizon_days``, ``budget``, ``k``, a segment's ``min_spend`` ...) can
  only be a quantity the user stated, read from digits or words (``tools.normalise.
  quantities_in``: "a fortnight" is 14, "three hundred quid" 300, "more than 2 orders" also 3);
  with none stated it cannot be written and the tool's default applies.

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

from tools.normalise import CJK, quantities_in

ID_ARGUMENTS = {"user_id", "order_id", "product_id", "payment_method_id", "email", "zip"}
ID_LIST_ARGUMENTS = {"item_ids", "new_item_ids"}  # lists of item ids
NAME_ARGUMENTS = {"first_name", "last_name"}
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_TYPED = ("user_id", "order_id", "product_id", "item_id", "payment_method_id", "zip")
_CONTAINERS = {"orders": "order_id", "payment_methods": "payment_method_id",
               "item_ids": "item_id", "variants": "item_id"}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ORDER_NUMBER = re.compile(r"#?W\d{7}", re.IGNORECASE)  # tau-bench's order ids: only an order id
_TOKEN = re.compile(r"[A-Za-z0-9_#@.+-]+")
_NUMBER_CHARS = set("0123456789.-+eE")


def _conversation_text(messages: list[dict[str, Any]], roles: set[str] | None = None) -> str:
    parts = []
    for message in messages:
        if message.get("role") == "system":
            continue
        if roles is None or message.get("role") in roles:
            parts.append(str(message.get("content") or ""))
        for call in message.get("tool_calls") or []:
            arguments = call.get("function", {}).get("arguments", "")
            parts.append(arguments if isinstance(arguments, str) else json.dumps(arguments))
    return "\n".join(parts)


def typed_identifiers(messages: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The ids tool results name with their kind: ``{"order_id": "#W1"}``, ``"orders":
    ["#W1"]``, ``"payment_methods": [{"id": "paypal_1"}]``, ``"variants": [{"item_id": ...}]``."""
    typed: dict[str, set[str]] = {kind: set() for kind in _TYPED}

    def walk(node: Any, kind: str | None = None) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in typed and isinstance(value, (str, int)):
                    typed[key].add(str(value))
                elif key == "id" and kind and isinstance(value, (str, int)):
                    typed[kind].add(str(value))
                else:
                    walk(value, _CONTAINERS.get(key, kind if isinstance(value, list) else None))
        elif isinstance(node, list):
            for item in node:
                if isinstance(item, (str, int)) and kind:
                    typed[kind].add(str(item))
                else:
                    walk(item, kind)

    for message in messages:
        if message.get("role") == "tool":
            try:
                walk(json.loads(message.get("content") or ""))
            except (json.JSONDecodeError, TypeError):
                continue
        for call in message.get("tool_calls") or []:  # an id a call used as X is an X
            arguments = call.get("function", {}).get("arguments") or {}
            try:
                walk(json.loads(arguments) if isinstance(arguments, str) else arguments)
            except (json.JSONDecodeError, TypeError):
                continue
    return typed


def identifier_values(messages: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The values each identifier argument may take in this conversation: the tokens with a digit
    (an e-mail for ``email``), less those a tool result named as another kind of id (a user id
    is never an order number the customer's order list gave); lists of item ids take item ids."""
    text = _conversation_text(messages)
    emails = set(_EMAIL.findall(text))
    ids: set[str] = set()
    for token in _TOKEN.findall(text):
        token = token.strip(".-+")
        if any(c.isdigit() for c in token) and "@" not in token:
            ids.update({token, token.lstrip("#")} - {""})
    typed = typed_identifiers(messages)
    forms = {kind: values | {v.lstrip("#") for v in values} for kind, values in typed.items()}

    def of_kind(kind: str) -> set[str]:
        others = set().union(*(v for k, v in forms.items() if k != kind))
        return (ids - others) | forms.get(kind, set())

    def not_an_order(found: set[str]) -> set[str]:
        return {v for v in found if not _ORDER_NUMBER.fullmatch(v)}

    values = {name: emails if name == "email" else
              of_kind(name) if name == "order_id" else not_an_order(of_kind(name))
              for name in ID_ARGUMENTS}
    names = name_values(messages)
    items = not_an_order(of_kind("item_id"))
    return values | {name: items for name in ID_LIST_ARGUMENTS} | {
        name: names for name in NAME_ARGUMENTS}


_STREET = re.compile(
    r"\b\d+[a-z]?(?:[ ,]+[^\W\d_][\w'.-]*){1,4}?[ ,]+(?:road|rd|street|st|avenue|ave|lane|ln|"
    r"drive|dr|court|ct|way|boulevard|blvd|place|pl|terrace|close|crescent|square|sq|parkway|pkwy|"
    r"highway|hwy|trail|circle|cir|row|walk|hill|view|gardens|park|strasse|straße|rue)\b"
    r"|[\u4e00-\u9fff]+(?:路|街|道|巷|弄)\s*\d+\s*号", re.IGNORECASE)


def address_given(messages: list[dict[str, Any]]) -> bool:
    """Whether a user message holds a street line: a house number and a street word."""
    return bool(_STREET.search(_conversation_text(messages, roles={"user"})))


def name_values(messages: list[dict[str, Any]]) -> set[str]:
    """The names the user may have given: each word of a user message as written and
    capitalised ("diego" -> "Diego"); in Chinese text, every run of one to three characters."""
    names: set[str] = set()
    for word in _WORD.findall(_conversation_text(messages, roles={"user"})):
        if CJK.search(word):
            names.update(word[i:i + n] for n in (1, 2, 3) for i in range(len(word) - n + 1))
        elif len(word) >= 2:
            names.update({word, word[0].upper() + word[1:].lower()})
    return names


def number_values(messages: list[dict[str, Any]]) -> set[str]:
    """How a numeric argument may be written: the quantities the user stated (in any message,
    in digits or in words) or an earlier call used, as JSON numbers ("14", "14.0", "0.7")."""
    written: set[str] = set()
    for value in quantities_in(_conversation_text(messages, roles={"user"})):
        written.update({str(int(value)), f"{int(value)}.0"} if value == int(value)
                       else {repr(value)})
    return written


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def _variants(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema, defs)
    return [_resolve(s, defs) for s in schema.get("anyOf", [])] or [schema]


def _numeric_names(params: dict[str, Any]) -> set[str]:
    """Names of the integer/number properties of a tool, nested objects included."""
    defs, names = params.get("$defs") or {}, set()
    for schema in [params, *defs.values()]:
        for name, prop in (schema.get("properties") or {}).items():
            if any(v.get("type") in ("integer", "number") for v in _variants(prop, defs)):
                names.add(name)
    return names


def _closed_objects(params: dict[str, Any]) -> dict[str, list[str]]:
    """Property -> its keys, for properties that are objects with a fixed set of keys."""
    defs, closed = params.get("$defs") or {}, {}
    for name, prop in (params.get("properties") or {}).items():
        for variant in _variants(prop, defs):
            if variant.get("properties") and variant.get("additionalProperties") is False:
                closed[name] = list(variant["properties"])
    return closed


@dataclass(frozen=True)
class _Scan:
    """Where the generated call text stands: container stack, current string or number, chosen
    tool."""

    stack: tuple[str, ...] = ()  # "{" / "[" per open container
    keys: tuple[str | None, ...] = ()  # per open object: the key whose value comes next
    expect_key: bool = False
    in_string: bool = False
    is_key: bool = False
    escape: bool = False
    buf: str = ""
    number: str | None = None  # the digits of a number value being written
    tool: str | None = None


class Grounding:
    """Allowed tool names, argument names, identifier values and numbers for one request."""

    def __init__(self, tools: list[dict[str, Any]], messages: list[dict[str, Any]]):
        values = identifier_values(messages)
        self.values = {name: sorted(v) for name, v in values.items()}
        self.numbers = sorted(number_values(messages))
        self.keys: dict[str, list[str]] = {}
        self.child_keys: dict[tuple[str, str], list[str]] = {}
        self.numeric: dict[str, set[str]] = {}
        self.names: list[str] = []
        for tool in tools:
            fn = tool.get("function", tool)
            params = fn.get("parameters") or {}
            props = list(params.get("properties") or {})
            numeric = _numeric_names(params)
            unwritable = set() if self.numbers else numeric
            missing = {p for p in props if (p in values and not values[p]) or p in unwritable}
            if missing & set(params.get("required") or []):
                continue  # a required identifier nobody gave: the tool cannot be called
            if "address1" in props and not address_given(messages):
                continue  # an address change with no address written
            self.names.append(fn["name"])
            self.keys[fn["name"]] = [p for p in props if p not in missing]
            self.numeric[fn["name"]] = numeric
            for parent, children in _closed_objects(params).items():
                self.child_keys[(fn["name"], parent)] = [c for c in children
                                                         if c not in unwritable]

    def allowed(self, scan: _Scan) -> list[str] | None:
        """The strings the current string may become, or None when it is free text."""
        if not scan.in_string:
            return None
        depth = len(scan.stack)
        if depth == 1 and not scan.is_key and scan.keys[-1] == "name":
            return self.names
        if depth < 2 or scan.keys[0] != "arguments" or scan.tool not in self.keys:
            return None
        if scan.is_key:
            if depth == 2:
                return self.keys[scan.tool]
            return self.child_keys.get((scan.tool, scan.keys[1])) if depth == 3 else None
        if depth == 2 and scan.keys[-1] in ID_ARGUMENTS | NAME_ARGUMENTS:
            return self.values[scan.keys[-1]]
        if depth == 3 and scan.stack[-1] == "[" and scan.keys[1] in ID_LIST_ARGUMENTS:
            return self.values[scan.keys[1]]
        return None

    def allowed_numbers(self, scan: _Scan) -> list[str] | None:
        """The numbers a value here may be, or None when it is not a grounded number."""
        if (len(scan.stack) >= 2 and scan.stack[-1] == "{" and scan.keys[0] == "arguments"
                and scan.keys[-1] in self.numeric.get(scan.tool, ())):
            return self.numbers
        return None

    def at_number(self, scan: _Scan) -> bool:
        """Whether the next characters may write a grounded number (or are writing one)."""
        return (not scan.in_string and not scan.expect_key
                and self.allowed_numbers(scan) is not None)

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
        numbers = self.allowed_numbers(scan) if check else None
        if scan.number is not None:
            if char in _NUMBER_CHARS:
                number = scan.number + char
                if numbers is not None and not any(a.startswith(number) for a in numbers):
                    return None
                return replace(scan, number=number)
            if numbers is not None and scan.number not in numbers:
                return None
            scan = replace(scan, number=None)
        elif char in "-0123456789" and scan.stack and not scan.expect_key:
            if numbers is not None and not any(a.startswith(char) for a in numbers):
                return None
            return replace(scan, number=char)
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
        if allowed is None:  # free text: only a token with a quote can enter a grounded string,
            # and where a grounded number is written, any token may be (or start) one
            risky = (is_open.nonzero().flatten() if self.grounding.at_number(self.scan)
                     else quoted[is_open[quoted]]).tolist()
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
