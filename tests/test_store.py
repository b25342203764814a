"""Conversation store: durable under kill -9, threads and messages round-trip, audit log masked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.store import Store, ThreadNotFoundError, mask

WRITER = """
import sys, time
from assistant.store import Store
store = Store(sys.argv[1])
thread = store.new_thread("customer")
for i in range(10_000):
    store.add_message(thread.thread_id, "user", f"message {i}")
    print(i, flush=True)
time.sleep(60)
"""


def test_a_killed_process_loses_no_committed_message(tmp_path: Path):
    db = tmp_path / "conv.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[1])
    acknowledged = -1
    while acknowledged < 200:
        acknowledged = int(proc.stdout.readline().split()[0])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(db)
    thread_id = store._read("SELECT thread_id FROM threads", ())[0][0]
    stored = store.messages(thread_id)
    assert len(stored) >= acknowledged + 1
    assert [m.content for m in stored[: acknowledged + 1]] == [
        f"message {i}" for i in range(acknowledged + 1)]


def test_threads_messages_and_pending_round_trip(tmp_path: Path):
    store = Store(tmp_path / "conv.sqlite")
    thread = store.new_thread("customer")
    store.add_message(thread.thread_id, "user", "hi")
    store.add_message(thread.thread_id, "assistant", "", tool_calls=[
        {"id": "c1", "name": "calculate", "args": {"expression": "1+1"}}])
    store.add_message(thread.thread_id, "tool", "2.0", tool_call_id="c1", name="calculate",
                      status="ok")
    store.set_pending(thread.thread_id, {"name": "cancel_pending_order", "args": {}})
    store.bind_customer(thread.thread_id, "sara_doe_496")
    again = store.thread(thread.thread_id)
    assert again.customer_id == "sara_doe_496" and again.pending["name"] == "cancel_pending_order"
    assert [m.role for m in store.messages(thread.thread_id)] == ["user", "assistant", "tool"]
    with pytest.raises(ThreadNotFoundError, match="start a new conversation"):
        store.thread("nope")


def test_audit_log_masks_emails_addresses_and_payment_details(tmp_path: Path):
    store = Store(tmp_path / "conv.sqlite")
    detail = {"email": "noah.brown7922@example.com",
              "args": {"order_id": "#W1", "address1": "986 Sunset Drive", "zip": "80279",
                       "payment_method_id": "credit_card_7815826"},
              "result": {"payment_methods": {"gift_card_123": {"balance": 10, "last_four": "9212"}},
                         "note": "mail noah.brown7922@example.com about paypal_5727330"}}
    store.audit(None, "tool_call", detail)
    text = str(store.audit_log()[0]["detail"])
    for secret in ("noah.brown7922", "986 Sunset", "80279", "7815826", "9212", "5727330", "123"):
        assert secret not in text
    assert "#W1" in text and "n***@example.com" in text and "credit_card_***" in text
    assert mask({"zip": ""}) == {"zip": ""}


def test_store_reopens_while_another_connection_writes(tmp_path: Path):
    first = Store(tmp_path / "conv.sqlite")
    thread = first.new_thread("operator")
    second = Store(tmp_path / "conv.sqlite")
    first.add_message(thread.thread_id, "user", "from first")
    assert [m.content for m in second.messages(thread.thread_id)] == ["from first"]
