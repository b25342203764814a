"""Which users the events appended by this process changed, so that cached per-user results
(features, scores) are recomputed for those users only.

Each append records the warehouse file's state just before and just after it (``file_state``),
with the user and the event time. A cache built at state S can then ask for the changes that
lead from S to the file's state now: if the appends of this process explain every step (each
one's ``before`` is the previous one's ``after``), only their users changed; if anything else
wrote in between (an import, another process, a customer-service action), the chain breaks and
the caller must recompute everything.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

MAX_CHANGES = 100_000  # older appends are forgotten: a cache that old is rebuilt in full

State = tuple


@dataclass(frozen=True)
class Change:
    before: State
    after: State
    user_id: str
    ts: datetime  # the event's time (naive UTC, as stored)


_lock = threading.Lock()
_changes: dict[str, deque[Change]] = {}


def file_state(path: Path) -> State:
    """Changes whenever the warehouse file (or its write-ahead log) changes."""
    path = Path(path)
    wal = Path(f"{path}.wal")
    stamp = [path.stat().st_mtime_ns, path.stat().st_size, path.stat().st_ino]
    if wal.exists():
        stamp += [wal.stat().st_mtime_ns, wal.stat().st_size]
    return (str(path.resolve()), *stamp)


def record(path: Path, change: Change) -> None:
    with _lock:
        _changes.setdefault(str(Path(path).resolve()), deque(maxlen=MAX_CHANGES)).append(change)


def forget(path: Path) -> None:
    """Drop the recorded appends of a file: its caches are rebuilt in full next time."""
    with _lock:
        _changes.pop(str(Path(path).resolve()), None)


def between(path: Path, since: State, now: State) -> list[Change] | None:
    """The recorded appends that turn state `since` into state `now`, in order ([] when they
    are equal), or None when something else changed the file too."""
    if since == now:
        return []
    with _lock:
        changes = list(_changes.get(str(Path(path).resolve()), ()))
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
