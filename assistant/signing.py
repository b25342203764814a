"""The HMAC-SHA256 signatures shared with a shop's own servers.

- A verified customer: the shop's backend signs the customer id with ``customer_signing_secret``
  and the widget passes id and signature; ``POST /v1/sessions`` binds the session only when
  they match (docs/desk.md has the Python and JavaScript snippets).
- A handoff webhook: shopmind signs each body with ``handoff_webhook_secret`` so the receiver
  knows it came from us and is fresh (Stripe-style ``t=...,v1=...`` header).
"""

from __future__ import annotations

import hashlib
import hmac
import time

WEBHOOK_HEADER = "X-Shopmind-Signature"
WEBHOOK_TOLERANCE_S = 300


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def customer_signature(secret: str, customer_id: str) -> str:
    """What the shop's backend computes: hex HMAC-SHA256(secret, customer id)."""
    return _hex(secret, customer_id.encode())


def is_customer_signature(secret: str, customer_id: str, signature: str) -> bool:
    """True only for the exact signature of ``customer_id`` (constant-time comparison)."""
    return hmac.compare_digest(customer_signature(secret, customer_id).encode(),
                               signature.strip().lower().encode())


def webhook_signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Shopmind-Signature`` header value of ``body``: ``t=UNIX_TIME,v1=HEX``, where
    HEX = HMAC-SHA256(secret, f"{t}." + body); the time stops an old body being replayed."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_hex(secret, str(t).encode() + b'.' + body)}"


def is_webhook_signature(secret: str, body: bytes, header: str, now: float | None = None,
                         tolerance_s: int = WEBHOOK_TOLERANCE_S) -> bool:
    """A receiver's check of a webhook: the signature matches and is at most ``tolerance_s``
    old."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = webhook_signature(secret, body, t).split(",v1=")[1]
    return hmac.compare_digest(expected.encode(), parts.get("v1", "").encode())
