"""Conversation store: threads, messages (with tool calls and results) and an audit log, in SQLite.

WAL mode and one committed transaction per write, so a killed process loses no message that
was already stored. The audit log masks emails, addresses and payment details; messages keep
the conversation as it was (the customer and operators with access to the thread see it).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id   TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    customer_id TEXT,
    pending     TEXT,              -- the write action waiting for the customer's yes (JSON)
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id    TEXT NOT NULL REFERENCES threads(thread_id),
    role         TEXT NOT NULL,    -- user | assistant | tool
    content      TEXT NOT NULL,
    tool_calls   TEXT,             -- assistant: [{"id", "name", "args"}]
    tool_call_id TEXT,             -- tool: the call it answers
    name         TEXT,             -- tool: tool name
    status       TEXT,             -- tool: ok | error
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_thread ON messages(thread_id, id);
CREATE TABLE IF NOT EXISTS audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id  TEXT,
    at         TEXT NOT NULL,
    event      TEXT NOT NULL,      -- tool_call | tool_refused | signed_in | confirm_asked | ...
    detail     TEXT NOT NULL       -- JSON, masked
);
"""

MaskRole = Literal["user", "assistant", "tool"]
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PAYMENT_ID = re.compile(r"\b(credit_card|paypal|gift_card)_\d+\b")
_SECRET_KEYS = {"address1", "address2", "city", "zip", "last_four", "brand", "balance",
                "first_name", "last_name"}


def mask(value: Any) -> Any:
    """Mask emails, addresses and payment details anywhere in a JSON-like value."""
    if isinstance(value, dict):
        return {
            _PAYMENT_ID.sub(r"\1_***", str(k)): ("***" if k in _SECRET_KEYS and v not in (None, "")
                                                 else mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return _PAYMENT_ID.sub(r"\1_***", _EMAIL.sub(r"\1***@\2", value))
    return value


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StoredMessage(BaseModel):
    id: int
    role: MaskRole
    content: str
    tool_calls: list[dict] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    status: str | None = None
    created_at: str


class Thread(BaseModel):
    thread_id: str
    role: Literal["operator", "customer"]
    customer_id: str | None = None
    pending: dict | None = None
    created_at: str


class ThreadNotFoundError(KeyError):
    def __str__(self) -> str:
        return f"thread {self.args[0]!r} not found; start a new conversation without a thread_id"


class Store:
    """One SQLite file shared by every conversation; safe to use from several threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._con.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.executescript(SCHEMA)

    def _write(self, sql: str, params: tuple) -> int:
        with self._lock:
            cur = self._con.execute(sql, params)  # autocommit: durable when this returns
            return cur.lastrowid

    def _read(self, sql: str, params: tuple) -> list[sqlite3.Row]:
        with self._lock:
            return self._con.execute(sql, params).fetchall()

    def close(self) -> None:
        self._con.close()

    # threads
    def new_thread(self, role: str, customer_id: str | None = None) -> Thread:
        thread_id = uuid.uuid4().hex
        self._write("INSERT INTO threads VALUES (?, ?, ?, NULL, ?)",
                    (thread_id, role, customer_id, _now()))
        return self.thread(thread_id)

    def thread(self, thread_id: str) -> Thread:
        rows = self._read("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
        if not rows:
            raise ThreadNotFoundError(thread_id)
        row = dict(rows[0])
        row["pending"] = json.loads(row["pending"]) if row["pending"] else None
        return Thread(**row)

    def bind_customer(self, thread_id: str, customer_id: str) -> None:
        self._write("UPDATE threads SET customer_id = ? WHERE thread_id = ?",
                    (customer_id, thread_id))
        self.audit(thread_id, "signed_in", {"customer_id": customer_id})

    def set_pending(self, thread_id: str, pending: dict | None) -> None:
        self._write("UPDATE threads SET pending = ? WHERE thread_id = ?",
                    (json.dumps(pending) if pending else None, thread_id))

    # messages
    def add_message(self, thread_id: str, role: MaskRole, content: str, *,
                    tool_calls: list[dict] | None = None, tool_call_id: str | None = None,
                    name: str | None = None, status: str | None = None) -> int:
        return self._write(
            "INSERT INTO messages (thread_id, role, content, tool_calls, tool_call_id, name, "
            "status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (thread_id, role, content, json.dumps(tool_calls) if tool_calls else None,
             tool_call_id, name, status, _now()))

    def messages(self, thread_id: str) -> list[StoredMessage]:
        rows = self._read("SELECT * FROM messages WHERE thread_id = ? ORDER BY id", (thread_id,))
        out = []
        for row in rows:
            data = dict(row)
            data.pop("thread_id")
            data["tool_calls"] = json.loads(data["tool_calls"]) if data["tool_calls"] else None
            out.append(StoredMessage(**data))
        return out

    # audit
    def audit(self, thread_id: str | None, event: str, detail: dict) -> None:
        self._write("INSERT INTO audit (thread_id, at, event, detail) VALUES (?, ?, ?, ?)",
                    (thread_id, _now(), event, json.dumps(mask(detail), default=str)))

    def audit_log(self, thread_id: str | None = None) -> list[dict]:
        sql, params = "SELECT * FROM audit ORDER BY id", ()
        if thread_id:
            sql, params = "SELECT * FROM audit WHERE thread_id = ? ORDER BY id", (thread_id,)
        return [dict(r) | {"detail": json.loads(r["detail"])} for r in self._read(sql, params)]
