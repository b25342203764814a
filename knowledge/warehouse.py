"""The DuckDB warehouse: open it, create its schema, replace it atomically on import, and the
short connections and transactions that serving (tools, API) uses while the server runs.

Every write here holds the event journal's lock (``knowledge.event_journal.writing``), in every
process: appended events are journaled, so caches recompute only their users; any other write
(a transaction, an import) changes the file's state without a journal line, so caches older
than it are rebuilt in full. A write that bypasses this module does the same, but should not
run while the server serves."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

from knowledge import event_journal
from knowledge.artifacts import replaced

TABLES_WITH_TIME = {"orders": "ordered_at", "events": "ts", "campaigns": "started_at"}


class WarehouseMissingError(FileNotFoundError):
    """The warehouse file for the active shop does not exist yet."""


class WarehouseBusyError(RuntimeError):
    """Another connection of this process holds the warehouse the other way (read vs write)."""


class UnknownProductError(LookupError):
    """A behaviour event names a product that is not in the catalogue."""


def schema_sql() -> str:
    return resources.files("knowledge").joinpath("schema.sql").read_text()


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(schema_sql())


def table_names() -> list[str]:
    con = duckdb.connect()
    create_schema(con)
    names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    con.close()
    return names


def require(path: Path) -> Path:
    """``path``, or a WarehouseMissingError that says how to build it."""
    path = Path(path)
    if not path.is_file():
        raise WarehouseMissingError(
            f"warehouse {path} does not exist; build it with `shopmind data import synthetic` "
            f"(or another source, see `shopmind data import --help`)"
        )
    return path


def connect(path: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Read-only by default: tools never need to write, except the
    customer-service actions and event ingestion, which ask for ``read_only=False``."""
    return duckdb.connect(str(require(path)), read_only=read_only)


_write_lock = threading.Lock()  # one read-modify-write at a time in this process


BUSY = ("different configuration",  # a connection the other way in this process
        "Could not set lock on file")  # a read-write one in another process, or any for a write


def open_shared(path: Path, write: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection while the server runs. DuckDB refuses a read-write and a read-only
    connection to one file in one process at the same time, and a read-write one in another
    process; tools hold short connections, so wait briefly for them (about 5 s) before giving
    up."""
    for attempt in range(50):
        try:
            return connect(path, read_only=not write)
        except (duckdb.ConnectionException, duckdb.IOException) as err:
            if not any(reason in str(err) for reason in BUSY) or attempt == 49:
                raise WarehouseBusyError("the shop's database is busy; try again in a moment") \
                    from err
            time.sleep(0.1)
    raise AssertionError("unreachable")


@contextmanager
def reading(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection (``open_shared``), closed after the block."""
    con = open_shared(path)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(path: Path, commit: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """One read-modify-write: a transaction, one at a time in this process, committed when the
    block succeeds and rolled back when it fails, so a failed check changes nothing.
    ``commit=False`` always rolls back: a dry run that makes every check and writes nothing.
    Not journaled: caches older than a committed one are rebuilt in full."""
    with _write_lock, event_journal.writing(require(path)):
        con = open_shared(path, write=True)
        try:
            con.execute("BEGIN TRANSACTION")
            yield con
            con.execute("COMMIT" if commit else "ROLLBACK")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()


@contextmanager
def atomic_update(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Work on a copy of the warehouse and swap it in only if the block succeeds.

    A failure anywhere inside the block (a corrupt file half-way through an import, a
    crash) leaves the previous warehouse file exactly as it was. The swap holds the event
    journal's lock and starts a new journal: no append straddles it, and every cache of the
    old file is rebuilt in full.
    """
    path = Path(path)
    with ExitStack() as swap, replaced(path) as tmp:  # `replaced` swaps first, then the lock goes
        if path.exists():
            shutil.copyfile(path, tmp)
        con = duckdb.connect(str(tmp))
        try:
            create_schema(con)
            yield con
            con.execute("CHECKPOINT")
        except BaseException:
            con.close()
            Path(f"{tmp}.wal").unlink(missing_ok=True)
            raise
        con.close()
        swap.enter_context(event_journal.writing(path)).reset()


def table_stats(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Row count and, for tables with a time column, the first and last timestamp."""
    rows = []
    for name in table_names():
        count = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        first = last = None
        if name in TABLES_WITH_TIME and count:
            col = TABLES_WITH_TIME[name]
            first, last = con.execute(f"SELECT min({col}), max({col}) FROM {name}").fetchone()
        rows.append({"table": name, "rows": count, "first": first, "last": last})
    return rows


def append_event(path: Path, user_id: str, product_id: str, event_type: str,
                 ts: datetime | None = None, session_id: str | None = None,
                 quantity: int | None = None, price: float | None = None) -> str | None:
    """Append one behaviour event while the server runs (``ts``: default now; stored as naive
    UTC, like every timestamp here) and return its product's category; the tools read it on
    their next call, and ``knowledge.event_journal`` tells their caches, in every process,
    that only this user changed. A product not in the catalogue is refused
    (``UnknownProductError``)."""
    ts = ts or datetime.now(UTC)
    ts = ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts
    # nothing else writes between `before` and `after`: not this process, nor another one
    with _write_lock, event_journal.writing(require(path)) as journal:
        con = open_shared(path, write=True)
        try:
            before = event_journal.file_state(path)
            found = con.execute("SELECT category FROM products WHERE product_id = ?",
                                [product_id]).fetchone()
            if found is None:
                raise UnknownProductError(product_id)
            con.execute(
                "INSERT INTO events (user_id, product_id, category, event_type, ts, session_id, "
                "quantity, price) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [user_id, product_id, found[0], event_type, ts, session_id, quantity, price])
        finally:
            con.close()  # checkpoints: `after` is the state that the next reader sees
        journal.record(event_journal.Change(before, event_journal.file_state(path), user_id, ts))
    return found[0]
