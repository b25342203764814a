"""What a customer may read: the agent's words without tool errors, markup or internal messages.

The model gets every tool error as the tool result and may recover from it (ask for the e-mail,
call the missing look-up). But a small model also repeats the error verbatim ("Sorry, that did
not work: the customer is not authenticated yet: ask for their email ..."), leaves tool-call
markup in its text ("</tool_call>"), or the step limit ends the turn with LangChain's own note.
Customers get none of that: ``customer_text`` swaps such an answer for a short, polite reply
chosen by the kind of error (``prompts/customer_apologies.yaml``), and ``CustomerStream`` holds
back streamed tokens that could turn into it. Operators keep seeing everything: the store keeps
the model's messages and tool results, and the agent audits every swap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

# Markup of a tool call or of the chat template, and a call written out as JSON.
MARKUP = re.compile(r"<\s*/?\s*(tool_call|tool_response|function_call|tools)\s*>|<\|[a-z_]+\|>|"
                    r"\{\s*\"(name|function)\"\s*:\s*\"\w+\"\s*,\s*\"(arguments|parameters)\"",
                    re.IGNORECASE)
# Closing tags a model sometimes leaves after a complete answer: dropped, the answer is kept.
STRAY = re.compile(r"\s*(<\s*/\s*(tool_call|tool_response)\s*>|<\|(im_end|endoftext)\|>)\s*",
                   re.IGNORECASE)
# Phrases only the machinery writes (tool errors, the trained error reply, the step limit).
INTERNAL = re.compile(r"\berror:|that did not work:|invalid arguments for|failed unexpectedly|"
                      r"traceback \(most recent|call limit (reached|exceeded)|toolexception|"
                      r"validationerror", re.IGNORECASE)
# Words for the machinery a customer cannot act on: argument names and "the database". After a
# tool error the model's trained error reply fills its slot with them ("I couldn't find the
# address1. Could you check the database?"); withheld only in a turn that had a tool error.
MACHINE_WORDS = re.compile(r"\b(address[12]|[a-z]+(_[a-z]+)*_ids?)\b|check the database",
                           re.IGNORECASE)
WINDOW = 24  # an answer sharing this many characters in a row with an internal text quotes it
MIN_INTERNAL = 12  # shorter internal texts ("division by zero") are ordinary words


@dataclass(frozen=True)
class Apologies:
    kinds: list[tuple[str, re.Pattern[str], str]]
    fallback: str
    done: str

    def kind(self, error: str) -> str:
        return next((kind for kind, pattern, _ in self.kinds if pattern.search(error)), "other")

    def reply(self, error: str | None) -> str:
        """The polite reply for an error (the fallback when there is none or it is unknown)."""
        return next((reply for _, pattern, reply in self.kinds if error and pattern.search(error)),
                    self.fallback)


@cache
def apologies() -> Apologies:
    data = yaml.safe_load(resources.files("assistant").joinpath(
        "prompts/customer_apologies.yaml").read_text())
    return Apologies([(k["kind"], re.compile(k["pattern"], re.IGNORECASE), k["reply"])
                      for k in data["kinds"]], data["fallback"], data["done"])


def _plain(text: str) -> str:
    return " ".join(text.lower().split())


def quoted(text: str, internal: Iterable[str]) -> str | None:
    """The internal text (a tool error, the agent's note to the model) that ``text`` quotes."""
    answer = _plain(text)
    for source in internal:
        plain = _plain(source.removeprefix("Error: "))
        if len(plain) < MIN_INTERNAL:
            continue
        if any(plain[i:i + WINDOW] in answer for i in range(max(1, len(plain) - WINDOW + 1))):
            return source
    return None


def withheld(text: str, internal: Iterable[str], errors: Iterable[str] = ()) -> str | None:
    """Why ``text`` may not reach a customer ('markup', 'internal' or 'quotes a tool error or
    note'), or None when it may. Stray closing tags do not count: ``clean`` drops them.
    ``errors``: the turn's tool errors (after one, machinery words are withheld too)."""
    text = STRAY.sub(" ", text)
    if MARKUP.search(text) or _is_json(text):
        return "markup"
    if INTERNAL.search(text) or (any(errors) and MACHINE_WORDS.search(text)):
        return "internal"
    return "quotes a tool error or note" if quoted(text, internal) else None


def _is_json(text: str) -> bool:
    """A whole answer that is a JSON object or list (a tool result or call, echoed)."""
    text = text.strip()
    if not text.startswith(("{", "[")):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def clean(text: str) -> str:
    return STRAY.sub(" ", text).strip()


@dataclass(frozen=True)
class Reply:
    text: str  # what the customer reads
    why: str | None = None  # why the model's answer was replaced; None when it was not
    error: str | None = None  # the tool error the reply is about


def customer_text(answer: str, internal: list[str], errors: list[str],
                  unanswered_error: str | None, done_action: str | None) -> Reply:
    """The customer's reply to a turn whose model answer was ``answer``.

    ``internal``: everything of this turn a customer must not read (tool errors, the agent's
    notes to the model); ``errors``: the tool errors among them, oldest first;
    ``unanswered_error``: the error the turn ended on when the model said nothing after it;
    ``done_action``: a confirmed action that ran, in words."""
    why = withheld(answer, internal, errors) or ("unanswered error" if unanswered_error else None)
    if why is None:
        if text := clean(answer):
            return Reply(text)
        why = "empty answer"
    error = unanswered_error or quoted(answer, errors) or (errors[-1] if errors else None)
    if error is None and done_action:
        return Reply(apologies().done.format(action=done_action), why)
    return Reply(apologies().reply(error), why, error)


class CustomerStream:
    """Streams a customer's tokens, holding back what could still become withheld text: the
    last ``WINDOW`` characters and anything from a '<' or '{' on. A message that turns out to be
    withheld stops streaming; the final event then carries the polite reply instead."""

    def __init__(self, internal: list[str], errors: list[str] | None = None):
        # the turn's lists: errors added later are seen too
        self.internal, self.errors = internal, errors if errors is not None else []
        self.message_id: str | None = None
        self.buffer, self.sent, self.stopped, self.finished = "", 0, False, True

    def feed(self, message_id: str | None, text: str) -> str:
        """Add a token; returns the text that is safe to show now."""
        if self.finished or message_id != self.message_id:  # a new message
            self.message_id, self.buffer, self.sent = message_id, "", 0
            self.stopped = self.finished = False
        self.buffer += text
        if self.stopped or withheld(self.buffer, self.internal, self.errors):
            self.stopped = True
            return ""
        end = len(self.buffer) - WINDOW
        if opener := re.search(r"[<{]", self.buffer[self.sent:]):
            end = min(end, self.sent + opener.start())
        return self._send(end)

    def finish(self) -> str:
        """The message is complete: the rest of it, if it may be shown. The next token starts
        a new message."""
        self.finished = True
        if self.stopped or withheld(self.buffer, self.internal, self.errors):
            return ""
        self.buffer = STRAY.sub(" ", self.buffer).rstrip()
        return self._send(len(self.buffer))

    def _send(self, end: int) -> str:
        if end <= self.sent:
            return ""
        out, self.sent = self.buffer[self.sent:end], end
        return out
