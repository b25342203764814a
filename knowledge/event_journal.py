"""Which users the appended events changed, so that cached per-user results (features, scores,
segment facts) are recomputed for those users only, in every process that serves the shop.

The journal is a file beside the warehouse (``<warehouse>.journal``): a header line naming its
generation, then one JSON line per ``warehouse.append_event``: the warehouse file's state just
before and just after the append (``file_state``), the user and the event time. A cache built at
state S asks ``between`` for the changes that lead from S to the file's state now: if the
journal's lines explain every step (each one's ``before`` is the previous one's ``after``), only
their users changed; if anything else wrote in between (an import, a customer-service write, a
raw DuckDB connection), the chain breaks and the caller recomputes everything.

Writers: every write of the warehouse through ``knowledge.warehouse`` (``append_event``,
``transaction``, the swap of ``atomic_update``) holds an exclusive ``flock`` on the journal
(``writing``), so the states recorded around an append bracket that append alone, also across
processes. Each line is one ``write`` in append mode (``knowledge/append_only.py``). A writer
that finds the chain already broken (the last line's ``after`` is not the file's state before
its append, or the last line is unreadable) starts a new generation first: no cache can chain
across the break, so nothing is lost; an import does the same; past ``MAX_CHANGES`` lines only
the newest half is kept. A new generation rewrites the file in place (the lock stays on one file).

Readers take no lock: each process keeps the journal's lines it has read and the byte offset it
read to, reads only what was appended since, and checks the header again after reading, so a
rewrite during the read is noticed and read again. An unreadable line (a crash cut it short, or
the file was damaged) is logged and ends every chain through it: those caches are rebuilt in
full, and the warehouse itself, where the events are, is never touched.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from knowledge import append_only

log = logging.getLogger(__name__)

MAX_CHANGES = 100_000  # lines kept; a cache older than the newest of them is rebuilt in full

State = tuple


@dataclass(frozen=True)
class Change:
    before: State
    after: State
    user_id: str
    ts: datetime  # the event's time (naive UTC, as stored)


def journal_path(path: Path) -> Path:
    return Path(f"{Path(path).resolve()}.journal")


# DuckDB's storage format: two database headers, in the 4 KiB blocks at 4 KiB and 8 KiB, each a
# checksum (8 bytes) then the checkpoint iteration (8 bytes, little-endian); every checkpoint
# writes the other header with the next iteration.
_DATABASE_HEADERS = (4096, 8192)


def _checkpoint_iteration(path: Path) -> int | None:
    try:
        with open(path, "rb") as file:
            found = []
            for offset in _DATABASE_HEADERS:
                file.seek(offset + 8)
                found.append(struct.unpack("<Q", file.read(8))[0])
    except (OSError, struct.error):
        return None
    return max(found)


def file_state(path: Path) -> State:
    """Changes whenever the warehouse's content changes: the file's inode, size and mtime, its
    checkpoint iteration, and its write-ahead log's size and mtime. A committed write either
    grows the log or is checkpointed into the file, which raises the iteration; so even where
    the file system's mtime is coarse, two different contents never share a state. Reading,
    and opening and closing a read-write connection without a write, leave it as it was
    (``tests/test_event_invalidation.py``)."""
    path = Path(path).resolve()
    stat = path.stat()
    try:
        wal = os.stat(f"{path}.wal")
        wal_stamp = (wal.st_size, wal.st_mtime_ns)
    except FileNotFoundError:
        wal_stamp = (None, None)
    return (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns,
            _checkpoint_iteration(path), *wal_stamp)


def _encode(change: Change) -> bytes:
    return (json.dumps({"before": list(change.before), "after": list(change.after),
                        "user_id": change.user_id, "ts": change.ts.isoformat()}) + "\n").encode()


def _decode(line: bytes) -> Change | None:
    try:
        row = json.loads(line)
        return Change(tuple(row["before"]), tuple(row["after"]), str(row["user_id"]),
                      datetime.fromisoformat(row["ts"]))
    except (ValueError, KeyError, TypeError):
        return None


def _header() -> bytes:
    return (json.dumps({"event_journal": 1, "generation": uuid.uuid4().hex}) + "\n").encode()


def _is_header(line: bytes) -> bool:
    try:
        row = json.loads(line)
    except ValueError:
        return False
    return line.endswith(b"\n") and isinstance(row, dict) and "event_journal" in row


# ---- writing ---------------------------------------------------------------------------------

class Writer:
    """The journal of one warehouse, locked for a write of the warehouse (``writing``)."""

    def __init__(self, file: BinaryIO):
        self.file = file

    def _lines(self) -> list[bytes]:
        self.file.seek(0)
        return self.file.read().splitlines(keepends=True)

    def _first_line(self) -> bytes:
        self.file.seek(0)
        return self.file.readline()

    def _last_line(self) -> bytes:
        end = self.file.seek(0, 2)
        self.file.seek(max(0, end - 65536))
        return (self.file.read().splitlines() or [b""])[-1]

    def reset(self, keep: list[bytes] = ()) -> None:
        """Start a new generation holding only the lines `keep`: every reader reads it anew."""
        self.file.truncate(0)
        self.file.write(_header() + b"".join(keep))  # one write: a reader sees the header whole
        self.file.flush()

    def record(self, change: Change) -> None:
        line = _encode(change)
        size = self.file.seek(0, 2)
        if not size:
            self.reset()
        elif not _is_header(self._first_line()):
            log.warning("event journal %s: unreadable header; starting a new journal",
                        self.file.name)
            self.reset()
        elif not _is_header((last := self._last_line()) + b"\n"):  # or nothing follows it
            previous = _decode(last)
            if previous is None:
                log.warning("event journal %s: unreadable last line %r (a write cut short?); "
                            "starting a new journal", self.file.name, last[:200])
            if previous is None or previous.after != change.before:
                self.reset()  # the chain broke: no cache can chain across it
            elif size > MAX_CHANGES * len(line):
                self.reset(self._lines()[1:][-(MAX_CHANGES // 2):])
        append_only.append_line(self.file, line)


@contextmanager
def writing(path: Path) -> Iterator[Writer]:
    """Hold the journal's exclusive lock for one write of the warehouse at ``path``: nothing
    else that writes through ``knowledge.warehouse`` writes meanwhile, in any process."""
    with append_only.locked(journal_path(path)) as file:
        yield Writer(file)


# ---- reading ---------------------------------------------------------------------------------

@dataclass
class _Read:
    header: bytes = b""  # the generation read so far
    offset: int = 0  # bytes of it read so far
    changes: deque[Change] = field(default_factory=lambda: deque(maxlen=MAX_CHANGES))


_lock = threading.Lock()
_reads: dict[Path, _Read] = {}


def _refresh(path: Path) -> list[Change]:
    """The journal's changes, after reading the lines appended since the last call."""
    journal = journal_path(path)
    with _lock:
        try:
            with open(journal, "rb") as file:
                return list(_read_new(file, journal))
        except FileNotFoundError:
            _reads[journal] = _Read()
            return []


def _read_new(file: BinaryIO, journal: Path) -> deque[Change]:
    read = _reads.setdefault(journal, _Read())
    for attempt in range(10):
        file.seek(0)
        header = file.readline()
        if not _is_header(header):  # empty: being rewritten this instant
            time.sleep(0.001 * attempt)
            continue
        if header != read.header:
            read = _reads[journal] = _Read(header, len(header))
        file.seek(read.offset)
        data = file.read()
        file.seek(0)
        if file.readline() != header:  # rewritten while we read: read it again
            continue
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
        for line in data[:end].splitlines():
            change = _decode(line)
            if change is None:
                log.warning("event journal %s: unreadable line %r; caches older than it are "
                            "rebuilt in full", journal, line[:200])
                read.changes.clear()
            else:
                read.changes.append(change)
        read.offset += end
        return read.changes
    log.warning("event journal %s: unreadable header, or rewritten during every read; caches "
                "are rebuilt in full", journal)
    _reads[journal] = _Read()
    return deque()


def forget(path: Path) -> None:
    """Ignore, in this process, every change recorded so far: caches older than now are
    rebuilt in full (what happened before the journal; ``bench/event_cost.py``)."""
    _refresh(path)
    with _lock:
        _reads[journal_path(path)].changes.clear()


def between(path: Path, since: State, now: State) -> list[Change] | None:
    """The recorded appends that turn state `since` into state `now`, in order ([] when they
    are equal), or None when something else changed the file too."""
    if since == now:
        return []
    changes = _refresh(path)
    starts = [i for i, c in enumerate(changes) if c.before == since]
    if not starts:
        return None
    chain = []
    for change in changes[starts[-1]:]:
        if change.before != (chain[-1].after if chain else since):
            return None
        chain.append(change)
        if change.after == now:
            return chain
    return None
