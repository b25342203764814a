"""Handoff events POSTed to the shop's own helpdesk (``handoff_webhook_url``), signed.

Delivery runs on one background thread, so a slow or absent receiver never delays a customer or
an operator; each event is tried once and a failure is written to the audit log (there is no
retry queue: a helpdesk that must not miss an event also lists threads with GET /v1/threads).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

import httpx

from assistant.signing import WEBHOOK_HEADER, webhook_signature
from assistant.store import Store
from knowledge.settings import Settings

Send = Callable[[str, bytes, dict[str, str]], None]
TIMEOUT_S = 5.0


def http_send(url: str, body: bytes, headers: dict[str, str]) -> None:
    httpx.post(url, content=body, headers=headers, timeout=TIMEOUT_S).raise_for_status()


class HandoffWebhook:
    """``emit(event, thread_id, **fields)`` posts ``{"event", "thread_id", "at", ...fields}``."""

    def __init__(self, settings: Settings, store: Store, send: Send = http_send):
        self.url = settings.handoff_webhook_url
        secret = settings.handoff_webhook_secret
        self._secret = secret.get_secret_value() if secret else ""
        self._store, self._send = store, send
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handoff-webhook")
        self._sent: list[Future] = []

    def emit(self, event: str, thread_id: str, **fields: object) -> None:
        if not self.url:
            return
        body = json.dumps({"event": event, "thread_id": thread_id,
                           "at": datetime.now(UTC).isoformat(timespec="milliseconds"), **fields},
                          default=str).encode()
        self._sent = [f for f in self._sent if not f.done()]
        self._sent.append(self._pool.submit(self._deliver, event, thread_id, body))

    def _deliver(self, event: str, thread_id: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json",
                   WEBHOOK_HEADER: webhook_signature(self._secret, body)}
        try:
            self._send(self.url, body, headers)
        except Exception as err:  # noqa: BLE001 - the receiver's problem, recorded, never raised
            self._store.audit(thread_id, "webhook_failed", {"event": event, "error": str(err)})

    def flush(self, timeout_s: float = TIMEOUT_S * 2) -> None:
        """Wait until every event emitted so far was delivered or failed (tests, shutdown)."""
        wait(self._sent, timeout=timeout_s)
