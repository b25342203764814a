"""Append-only line files that several threads and processes write: the served-prediction log
(``finetune/behavior/prediction_log.py``) and the event journal (``knowledge/event_journal.py``).

A writer holds an exclusive ``flock`` on the file (``locked``) and appends each line with one
``write`` in append mode (``append_line``), so lines never interleave; a line cut short by a
crash is ended by the next append, and readers skip it as unparseable.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def locked(path: Path) -> Iterator[BinaryIO]:
    """``path`` open for appending (created if missing, with its folder) under an exclusive
    ``flock``, held until the block ends. Another open of the file waits, also in this process."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # released when the file is closed
        yield file


def append_line(file: BinaryIO, line: bytes) -> None:
    """Append ``line`` (ending in a newline) to a file opened by ``locked``, in one write."""
    end = file.seek(0, 2)
    if end:
        file.seek(end - 1)
        if file.read(1) != b"\n":  # a line cut short by a crash: end it, keep this one whole
            line = b"\n" + line
    file.write(line)  # append mode: at the end, wherever the position is
    file.flush()


def append(path: Path, line: bytes) -> None:
    """One line appended to ``path`` under the lock."""
    with locked(path) as file:
        append_line(file, line)
