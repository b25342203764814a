"""Signing a customer in from the e-mail in their message, before the model answers.

Customers write their e-mail and their request in one message ("Hi, I'm amy@example.com,
please cancel #W2611340"). A small dialog model then either calls the order tool first (and
gets "not authenticated") or signs in and answers "How can I help?", forgetting the request
(issue 15; bench/tasks.py). The agent therefore runs the look-up the policy asks for itself,
exactly as the model would (``find_user_id_by_email`` with the e-mail the customer wrote), and
when the message asks for more than signing in, shows the model the conversation the way it
was trained on most: the sign-in, then the request as the next customer message.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# what a sign-in message says besides the e-mail ("hi, my email is ...", "it's ... here")
_SIGN_IN_WORDS = re.compile(
    r"\b(?:hi|hello|hey|there|good|morning|afternoon|evening|thanks|thank|you|please|my|email|"
    r"e-mail|mail|address|is|it's|its|it|i'm|im|i|am|this|here|the|on|account|name|and|a|of|"
    r"with|signed|up|sign|in|login|log)\b|[^\w\s]")
SIGNED_IN_REPLY = "Thanks, you're signed in. How can I help?"


def email_to_sign_in(text: str) -> str | None:
    """The one e-mail address in a customer's message, or None (none, or several)."""
    emails = set(_EMAIL.findall(text))
    return emails.pop() if len(emails) == 1 else None


def asks_more_than_sign_in(text: str) -> bool:
    """Whether the message holds a request besides giving the e-mail ("Hi, it's amy@x.com"
    does not; "amy@x.com, cancel #W1" does)."""
    rest = _SIGN_IN_WORDS.sub(" ", _EMAIL.sub(" ", text.lower()))
    return len(rest.split()) >= 2
