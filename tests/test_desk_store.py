"""The desk's part of the conversation store and settings: statuses, the queue, older files."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.desk import Desk
from assistant.store import Store
from knowledge.settings import SettingsError, load_settings

OLD_SCHEMA = """
CREATE TABLE threads (thread_id TEXT PRIMARY KEY, role TEXT NOT NULL, customer_id TEXT,
                      pending TEXT, created_at TEXT NOT NULL);
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL,
    role TEXT NOT NULL, content TEXT NOT NULL, tool_calls TEXT, tool_call_id TEXT, name TEXT,
    status TEXT, created_at TEXT NOT NULL);
INSERT INTO threads VALUES ('old', 'customer', NULL, NULL, '2026-01-01T00:00:00');
INSERT INTO messages (thread_id, role, content, created_at)
    VALUES ('old', 'user', 'hi', '2026-01-01T00:00:00'),
           ('old', 'assistant', 'Hello! How can I help?', '2026-01-01T00:00:01');
"""


def test_a_store_written_before_the_desk_opens_with_every_thread_answered_by_the_bot(
        tmp_path: Path):
    con = sqlite3.connect(tmp_path / "old.sqlite")
    con.executescript(OLD_SCHEMA)
    con.close()
    store = Store(tmp_path / "old.sqlite")
    assert store.thread("old").status == "bot"
    assert store.messages("old")[0].author is None
    assert store.messages("old")[1].shown == "Hello! How can I help?"  # customers still read it
    assert store.set_status("old", "waiting_for_human", allowed_from=("bot",))


def test_the_queue_is_in_order_of_asking_and_a_status_moves_only_from_the_expected_one(
        tmp_path: Path):
    store = Store(tmp_path / "s.sqlite")
    a, b = store.new_thread("customer"), store.new_thread("customer")
    for thread in (a, b):
        assert store.set_status(thread.thread_id, "waiting_for_human", allowed_from=("bot",))
    assert (store.queue_position(a.thread_id), store.queue_position(b.thread_id)) == (1, 2)
    assert store.set_status(a.thread_id, "human", allowed_from=("waiting_for_human",),
                            assignee="Ana")
    assert not store.set_status(a.thread_id, "human", allowed_from=("waiting_for_human",),
                                assignee="Bo")  # the second operator loses
    assert store.thread(a.thread_id).assignee == "Ana"
    assert store.queue_position(a.thread_id) is None and store.queue_position(b.thread_id) == 1
    operator = store.new_thread("operator")
    assert not store.set_status(operator.thread_id, "human", allowed_from=("bot",))


def test_desk_settings_are_checked(monkeypatch: pytest.MonkeyPatch):
    assert load_settings(None).cors_origins == ["*"]
    monkeypatch.setenv("SHOPMIND_CORS_ORIGINS", "https://a.example, https://b.example")
    assert load_settings(None).cors_origins == ["https://a.example", "https://b.example"]
    with pytest.raises(SettingsError, match="handoff_webhook_secret is empty"):
        load_settings(None, {"handoff_webhook_url": "https://helpdesk.example/hook"})
    secret = load_settings(None, {"customer_signing_secret": "abc"}).customer_signing_secret
    assert secret.get_secret_value() == "abc" and "abc" not in repr(secret)


HANDOFF_WRITER = """
import sys, time
from assistant.desk import Desk
from assistant.store import Store

class NoWebhook:
    def emit(self, *args, **kwargs):
        pass

store = Store(sys.argv[1])
desk = Desk(store, NoWebhook())
thread = store.new_thread("customer").thread_id
desk.request(thread, by="customer")
desk.take(thread, "Ana")
print("taken", flush=True)
for i in range(10_000):
    store.add_message(thread, "user", f"customer {i}")
    desk.reply(thread, "Ana", f"person {i}")
    print(i, flush=True)
time.sleep(60)
"""


def test_a_process_killed_mid_handoff_keeps_the_status_and_every_acknowledged_message(
        tmp_path: Path):
    db = tmp_path / "conv.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", HANDOFF_WRITER, str(db)],
                            stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout.readline().strip() == "taken"
    acknowledged = -1
    while acknowledged < 100:
        acknowledged = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(db)
    thread_id = store._read("SELECT thread_id FROM threads", ())[0][0]
    thread = store.thread(thread_id)
    assert (thread.status, thread.assignee) == ("human", "Ana")
    stored = [(m.role, m.content, m.author) for m in store.messages(thread_id)]
    expected = [pair for i in range(acknowledged + 1) for pair in (
        ("user", f"customer {i}", None), ("assistant", f"person {i}", "Ana"))]
    assert stored[:len(expected)] == expected
    assert Desk(store, None).status(thread).status == "human"
