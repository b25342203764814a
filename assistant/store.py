"""Conversation store: threads, messages (with tool calls and results) and an audit log, in SQLite.

A customer thread also has a desk status (``bot``, ``waiting_for_human``, ``human``,
``resolved``, see assistant/desk.py); messages an operator wrote carry their ``author``, and the
model's last message of a turn carries what the reader was ``shown`` (a customer's reply can
differ from the model's words, assistant/customer_reply.py; a withheld one has none).

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

from pydantic import BaseModel, Field

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id   TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    customer_id TEXT,
    pending     TEXT,              -- the write action waiting for the customer's yes (JSON)
    created_at  TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'bot',  -- bot | waiting_for_human | human | resolved
    status_at   TEXT,              -- when the status last changed, in µs (the queue's order)
    assignee    TEXT,              -- the operator holding the thread (status human)
    summary     TEXT               -- why it was handed to a person
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
    created_at   TEXT NOT NULL,
    author       TEXT,             -- assistant messages written by a person: the operator's name
    shown        TEXT              -- assistant: what the reader read of the turn's answer
);
CREATE INDEX IF NOT EXISTS messages_thread ON messages(thread_id, id);
CREATE INDEX IF NOT EXISTS threads_status ON threads(status, status_at);
CREATE TABLE IF NOT EXISTS audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id  TEXT,
    at         TEXT NOT NULL,
    event      TEXT NOT NULL,      -- tool_call | tool_refused | signed_in | confirm_asked | ...
    detail     TEXT NOT NULL       -- JSON, masked
);
"""

MaskRole = Literal["user", "assistant", "tool"]
ThreadStatus = Literal["bot", "waiting_for_human", "human", "resolved"]
# a person is answering (or about to): the model is not called (assistant/desk.py)
HELD: tuple[ThreadStatus, ...] = ("waiting_for_human", "human")
# columns added after the first release: (table, column, declaration) for older files
_ADDED_COLUMNS = (("threads", "status", "TEXT NOT NULL DEFAULT 'bot'"),
                  ("threads", "status_at", "TEXT"), ("threads", "assignee", "TEXT"),
                  ("threads", "summary", "TEXT"), ("messages", "author", "TEXT"),
                  ("messages", "shown", "TEXT"))
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
    author: str | None = None  # set when a person (an operator) wrote it
    shown: str | None = Field(None, description="What the reader read of the turn's answer "
                              "(customers: after assistant/customer_reply.py); null for tool "
                              "steps, a turn's earlier messages and an answer withheld because "
                              "a person took the thread meanwhile.")


class Thread(BaseModel):
    thread_id: str
    role: Literal["operator", "customer"]
    customer_id: str | None = None
    pending: dict | None = None
    created_at: str
    status: ThreadStatus = "bot"
    status_at: str | None = None
    assignee: str | None = None
    summary: str | None = None


class ThreadSummary(BaseModel):
    """A thread as the operators' inbox lists it."""

    thread_id: str
    customer_id: str | None
    status: ThreadStatus
    status_at: str | None
    assignee: str | None
    summary: str | None
    last_at: str = Field(description="When the last message was written (or the thread began).")
    last_message: str = Field(description="The start of the last user or person message.")


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
        self._migrate()
        self._con.executescript(SCHEMA)

    def _migrate(self) -> None:
        """Add the columns a file written by an older version lacks (before the new indexes)."""
        for table, column, declaration in _ADDED_COLUMNS:
            columns = {r[1] for r in self._con.execute(f"PRAGMA table_info({table})")}
            if columns and column not in columns:
                self._con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
                if column == "shown":  # older turns: the model's words are what was shown
                    self._con.execute("UPDATE messages SET shown = content WHERE role = "
                                      "'assistant' AND tool_calls IS NULL AND content != ''")

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
        self._write("INSERT INTO threads (thread_id, role, customer_id, created_at) "
                    "VALUES (?, ?, ?, ?)", (thread_id, role, customer_id, _now()))
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

    # desk status
    def set_status(self, thread_id: str, status: ThreadStatus, *, allowed_from: tuple[str, ...],
                   assignee: str | None = None, summary: str | None = None) -> bool:
        """Move a customer thread to ``status`` if it is now in one of ``allowed_from``, in one
        statement (two operators taking the same thread: one wins). False when it was not.
        ``summary`` is kept when None."""
        with self._lock:
            cur = self._con.execute(
                f"UPDATE threads SET status = ?, status_at = ?, assignee = ?, "
                f"summary = coalesce(?, summary) WHERE thread_id = ? AND role = 'customer' "
                f"AND status IN ({', '.join('?' * len(allowed_from))})",
                (status, datetime.now(UTC).isoformat(timespec="microseconds"), assignee,
                 summary, thread_id, *allowed_from))
            return cur.rowcount == 1

    def queue_position(self, thread_id: str) -> int | None:
        """1 for the thread waiting longest; None when the thread is not waiting."""
        rows = self._read(
            "SELECT count(*) FROM threads w, threads t WHERE t.thread_id = ? "
            "AND t.status = 'waiting_for_human' AND w.status = 'waiting_for_human' "
            "AND (w.status_at < t.status_at OR (w.status_at = t.status_at "
            "AND w.rowid <= t.rowid))", (thread_id,))
        return rows[0][0] or None

    def threads_by_status(self, statuses: tuple[str, ...], limit: int = 100) -> list[ThreadSummary]:
        """Customer threads in these statuses, the most recently active first."""
        rows = self._read(
            "SELECT t.thread_id, t.customer_id, t.status, t.status_at, t.assignee, t.summary, "
            "coalesce(max(m.created_at), t.created_at) AS last_at, "
            "(SELECT substr(content, 1, 200) FROM messages l WHERE l.thread_id = t.thread_id "
            " AND (l.role = 'user' OR l.author IS NOT NULL) ORDER BY l.id DESC LIMIT 1) "
            "AS last_message "
            "FROM threads t LEFT JOIN messages m USING (thread_id) "
            f"WHERE t.role = 'customer' AND t.status IN ({', '.join('?' * len(statuses))}) "
            "GROUP BY t.thread_id ORDER BY last_at DESC LIMIT ?", (*statuses, limit))
        return [ThreadSummary(**(dict(r) | {"last_message": r["last_message"] or ""}))
                for r in rows]

    # messages
    def add_message(self, thread_id: str, role: MaskRole, content: str, *,
                    tool_calls: list[dict] | None = None, tool_call_id: str | None = None,
                    name: str | None = None, status: str | None = None,
                    author: str | None = None, shown: str | None = None) -> int:
        return self._write(
            "INSERT INTO messages (thread_id, role, content, tool_calls, tool_call_id, name, "
            "status, created_at, author, shown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (thread_id, role, content, json.dumps(tool_calls) if tool_calls else None,
             tool_call_id, name, status, _now(), author, shown))

    def set_shown(self, message_id: int, text: str) -> None:
        """Record what the reader was shown of a stored model message."""
        self._write("UPDATE messages SET shown = ? WHERE id = ?", (text, message_id))

    def messages(self, thread_id: str, after_id: int = 0) -> list[StoredMessage]:
        """The thread's messages in order; only those after message ``after_id`` if given."""
        rows = self._read("SELECT * FROM messages WHERE thread_id = ? AND id > ? ORDER BY id",
                          (thread_id, after_id))
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
