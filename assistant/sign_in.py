"""Signing a customer in from the identity in their message, before the model answers.

Customers write who they are and their request in one message ("Hi, I'm amy@example.com,
please cancel #W2611340", "I'm Nadia Hill, postcode 19132. Can you call off #W4764267?"). A
small dialog model then either calls the order tool first (and gets "not authenticated") or
signs in and answers "How can I help?", forgetting the request (issue 15; bench/tasks.py). The
agent therefore runs the look-up the policy asks for itself, exactly as the model would
(``find_user_id_by_email`` with the one e-mail the customer wrote, or
``find_user_id_by_name_zip`` with a name and a zip code they gave as such), and when the
message asks for more than signing in, shows the model the conversation the way it was trained
on most: the sign-in, then the request as the next customer message.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# "I'm Nadia Hill, postcode 19132", "name: diego patel, zip code 90099", "this is Ana Silva 30347"
_NAME = r"(?P<first>[^\W\d_][\w'-]*)\s+(?P<last>[^\W\d_][\w'-]*)"
_NAME_ZIP = re.compile(
    rf"\b(?:i'?m|i am|this is|my name is|my name's|name(?: is)?:?|it'?s)\s+{_NAME}"
    r"\W{0,3}\s*(?:(?:and\s+)?(?:my\s+)?(?:zip(?:\s*code)?|post\s*code|postal\s+code)"
    r"(?:\s+is)?\W{0,2}\s*)?(?P<zip>\d{5})\b", re.IGNORECASE)
_NOT_A_NAME = {"here", "from", "looking", "trying", "not", "the", "a", "an", "at", "in", "on",
               "sorry", "so", "just", "still", "back", "calling", "writing", "interested"}
# what a sign-in message says besides the identity ("hi, my email is ...", "it's ... here")
_SIGN_IN_WORDS = re.compile(
    r"\b(?:hi|hello|hey|there|good|morning|afternoon|evening|thanks|thank|you|please|my|email|"
    r"e-mail|mail|address|is|it's|its|it|i'm|im|i|am|this|here|the|on|account|name|and|a|of|"
    r"with|signed|up|sign|in|login|log|zip|code|postcode|post|postal)\b|[^\w\s]")
SIGNED_IN_REPLY = "Thanks, you're signed in. How can I help?"


def email_to_sign_in(text: str) -> str | None:
    """The one e-mail address in a customer's message, or None (none, or several)."""
    emails = set(_EMAIL.findall(text))
    return emails.pop() if len(emails) == 1 else None


def name_zip_to_sign_in(text: str) -> dict[str, str] | None:
    """``find_user_id_by_name_zip``'s arguments when the message introduces the customer by
    name with a five-digit zip code ("I'm Nadia Hill, postcode 19132"), else None."""
    found = [m for m in _NAME_ZIP.finditer(text)
             if not {m["first"].lower(), m["last"].lower()} & _NOT_A_NAME]
    if len(found) != 1:
        return None
    match = found[0]
    return {"first_name": match["first"], "last_name": match["last"], "zip": match["zip"]}


def identity_to_sign_in(text: str) -> tuple[str, dict[str, str]] | None:
    """The sign-in call a customer's message asks for without saying so: (tool, arguments)."""
    if email := email_to_sign_in(text):
        return "find_user_id_by_email", {"email": email}
    if name_zip := name_zip_to_sign_in(text):
        return "find_user_id_by_name_zip", name_zip
    return None


def asks_more_than_sign_in(text: str, identity: dict[str, str]) -> bool:
    """Whether the message holds a request besides the identity ("Hi, it's amy@x.com" does
    not; "amy@x.com, cancel #W1" does)."""
    rest = text.lower()
    for value in identity.values():
        rest = rest.replace(value.lower(), " ")
    rest = _SIGN_IN_WORDS.sub(" ", rest)
    return len(rest.split()) >= 2
