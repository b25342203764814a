"""The DuckDB warehouse: open it, create its schema, and replace it atomically on import."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

TABLES_WITH_TIME = {"orders": "ordered_at", "events": "ts", "campaigns": "started_at"}


class WarehouseMissingError(FileNotFoundError):
    """The warehouse file for the active shop does not exist yet."""


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


def connect(path: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. Read-only by default: tools never need to write, except the
    customer-service actions and event ingestion, which ask for ``read_only=False``."""
    path = Path(path)
    if not path.is_file():
        raise WarehouseMissingError(
            f"warehouse {path} does not exist; build it with `shopmind data import synthetic` "
            f"(or another source, see `shopmind data import --help`)"
        )
    return duckdb.connect(str(path), read_only=read_only)


@contextmanager
def atomic_update(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Work on a copy of the warehouse and swap it in only if the block succeeds.

    A failure anywhere inside the block (a corrupt file half-way through an import, a
    crash) leaves the previous warehouse file exactly as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    if path.exists():
        shutil.copyfile(path, tmp)
    con = duckdb.connect(str(tmp))
    try:
        create_schema(con)
        yield con
        con.execute("CHECKPOINT")
        con.close()
        os.replace(tmp, path)
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        raise


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
