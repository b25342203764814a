"""The event journal beside the warehouse: the file state changes with every write and with
nothing else, appends from several processes form one unbroken chain, a break or an import
starts a new journal, a damaged line costs a full rebuild and nothing more, and the file stays
bounded."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from knowledge import event_journal, warehouse
from tests.another_process import in_another_process, start_in_another_process

TS = datetime(2026, 10, 31, 15)


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A warehouse with the schema and one product."""
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    warehouse.create_schema(con)
    con.execute("INSERT INTO products (product_id, title, category) VALUES ('p1', 'P', 'c')")
    con.close()
    return path


def change(before: int, after: int, user: str = "u") -> event_journal.Change:
    return event_journal.Change(("w", before), ("w", after), user, TS)


def record(path: Path, *changes: event_journal.Change) -> None:
    for c in changes:
        with event_journal.writing(path) as journal:
            journal.record(c)


def journal_lines(path: Path) -> list[str]:
    return event_journal.journal_path(path).read_text().splitlines()


def test_the_journal_returns_only_an_unbroken_chain_of_appends(tmp_path):
    path = tmp_path / "w.duckdb"
    record(path, change(1, 2, "a"), change(2, 3, "b"))
    assert event_journal.between(path, ("w", 1), ("w", 1)) == []
    assert [c.user_id for c in event_journal.between(path, ("w", 1), ("w", 3))] == ["a", "b"]
    assert event_journal.between(path, ("w", 0), ("w", 2)) is None  # the cache predates it all
    assert event_journal.between(path, ("w", 1), ("w", 4)) is None  # the file is not at 3
    record(path, change(3, 4, "c"))  # read incrementally: only the new line
    assert [c.user_id for c in event_journal.between(path, ("w", 2), ("w", 4))] == ["b", "c"]


def test_a_broken_chain_starts_a_new_journal_that_readers_follow(tmp_path):
    path = tmp_path / "w.duckdb"
    record(path, change(1, 2, "a"), change(2, 3, "b"))
    assert event_journal.between(path, ("w", 1), ("w", 3)) is not None  # this process read it
    header = journal_lines(path)[0]
    record(path, change(5, 6, "c"))  # 3 -> 5: someone else wrote
    lines = journal_lines(path)
    assert len(lines) == 2 and lines[0] != header  # a new generation holding only c
    assert event_journal.between(path, ("w", 1), ("w", 3)) is None
    assert event_journal.between(path, ("w", 2), ("w", 6)) is None
    assert [c.user_id for c in event_journal.between(path, ("w", 5), ("w", 6))] == ["c"]


def test_the_journal_keeps_at_most_max_changes_lines(tmp_path, monkeypatch):
    monkeypatch.setattr(event_journal, "MAX_CHANGES", 10)
    path = tmp_path / "w.duckdb"
    record(path, *(change(i, i + 1, f"u{i}") for i in range(35)))
    assert len(journal_lines(path)) <= 1 + 10
    assert [c.user_id for c in event_journal.between(path, ("w", 32), ("w", 35))] == \
        ["u32", "u33", "u34"]
    assert event_journal.between(path, ("w", 0), ("w", 35)) is None  # forgotten: rebuild


def test_a_damaged_line_costs_a_full_rebuild_with_a_warning_and_nothing_else(tmp_path, caplog):
    path = tmp_path / "w.duckdb"
    record(path, change(1, 2, "a"))
    with open(event_journal.journal_path(path), "ab") as file:
        file.write(b'{"before": ["w", 2], "aft\n')  # garbage, then a good line after it
    with open(event_journal.journal_path(path), "ab") as file:
        file.write(event_journal._encode(change(2, 3, "b")))
    with caplog.at_level(logging.WARNING, logger="knowledge.event_journal"):
        assert event_journal.between(path, ("w", 1), ("w", 3)) is None  # 2 -> 3 is unproven
    assert "unreadable line" in caplog.text and str(event_journal.journal_path(path)) in caplog.text
    assert [c.user_id for c in event_journal.between(path, ("w", 2), ("w", 3))] == ["b"]


def test_a_line_cut_short_is_not_read_and_the_next_append_starts_a_new_journal(tmp_path,
                                                                                 caplog):
    path = tmp_path / "w.duckdb"
    record(path, change(1, 2, "a"), change(2, 3, "b"))
    journal = event_journal.journal_path(path)
    journal.write_bytes(journal.read_bytes()[:-20])  # a crash in the middle of b's write
    assert event_journal.between(path, ("w", 1), ("w", 3)) is None  # b is not there yet
    assert [c.user_id for c in event_journal.between(path, ("w", 1), ("w", 2))] == ["a"]
    with caplog.at_level(logging.WARNING, logger="knowledge.event_journal"):
        record(path, change(3, 4, "c"))
    assert "unreadable last line" in caplog.text
    assert len(journal_lines(path)) == 2  # header and c: the torn line is gone
    assert [c.user_id for c in event_journal.between(path, ("w", 3), ("w", 4))] == ["c"]


def test_a_damaged_header_costs_a_full_rebuild_until_the_next_append(tmp_path, caplog):
    path = tmp_path / "w.duckdb"
    record(path, change(1, 2, "a"))
    journal = event_journal.journal_path(path)
    journal.write_bytes(b"\x00garbage" + journal.read_bytes())
    with caplog.at_level(logging.WARNING, logger="knowledge.event_journal"):
        assert event_journal.between(path, ("w", 1), ("w", 2)) is None
        record(path, change(2, 3, "b"))
    assert "unreadable header" in caplog.text
    assert [c.user_id for c in event_journal.between(path, ("w", 2), ("w", 3))] == ["b"]


def test_the_file_state_changes_with_every_write_and_with_nothing_else(tiny):
    state = event_journal.file_state(tiny)
    for read_only in (True, False):  # open and close, reading only
        duckdb.connect(str(tiny), read_only=read_only).execute("SELECT * FROM events").fetchall()
    con = duckdb.connect(str(tiny))
    con.execute("CHECKPOINT")  # a checkpoint with nothing to write
    con.close()
    assert event_journal.file_state(tiny) == state

    con = duckdb.connect(str(tiny))
    con.execute("INSERT INTO events VALUES ('u', 'p1', 'c', 'view', ?, NULL, NULL, NULL)", [TS])
    in_wal = event_journal.file_state(tiny)  # committed, still in the write-ahead log
    assert in_wal != state and Path(f"{tiny}.wal").is_file()
    con.close()  # the last connection checkpoints the log into the file
    written = event_journal.file_state(tiny)
    assert written not in (state, in_wal) and not Path(f"{tiny}.wal").exists()
    duckdb.connect(str(tiny), read_only=True).close()
    assert event_journal.file_state(tiny) == written  # stable after the checkpoint

    # a coarse clock (the same mtime after another write): the checkpoint counter still
    # tells the two contents apart, also where the size stays the same
    mtime, iteration = os.stat(tiny).st_mtime_ns, event_journal._checkpoint_iteration(tiny)
    con = duckdb.connect(str(tiny))
    con.execute("UPDATE events SET event_type = 'purchase'")
    con.close()
    os.utime(tiny, ns=(mtime, mtime))
    assert event_journal._checkpoint_iteration(tiny) > iteration
    assert event_journal.file_state(tiny) != written


def test_appends_from_two_processes_at_once_form_one_chain(tiny):
    start = event_journal.file_state(tiny)
    code = ("for i in range(8):\n"
            "    warehouse.append_event(path, f'{who}{i}', 'p1', 'view', datetime(2026, 10, 31))\n")
    others = [start_in_another_process(code, path=str(tiny), who=who) for who in "ab"]
    for i in range(8):
        warehouse.append_event(tiny, f"c{i}", "p1", "view", datetime(2026, 10, 31))
    assert [p.wait(timeout=120) for p in others] == [0, 0]
    chain = event_journal.between(tiny, start, event_journal.file_state(tiny))
    assert chain is not None and len(chain) == 24
    assert sorted(c.user_id for c in chain) == sorted(f"{w}{i}" for w in "abc" for i in range(8))


def test_an_import_starts_a_new_journal(tiny):
    warehouse.append_event(tiny, "u1", "p1", "view", TS)
    start = event_journal.file_state(tiny)
    in_another_process("with warehouse.atomic_update(path) as con:\n"
                       "    con.execute(\"UPDATE events SET event_type = 'purchase'\")\n"
                       "warehouse.append_event(path, 'u2', 'p1', 'view', datetime(2026, 10, 31))\n",
                       path=str(tiny))
    assert len(journal_lines(tiny)) == 2  # the header and u2's append only
    assert event_journal.between(tiny, start, event_journal.file_state(tiny)) is None
