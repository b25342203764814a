"""Read one raw export (CSV or Parquet, gzipped or not) into a DuckDB temporary table, every
row numbered with the line it came from. Rows the CSV reader cannot split (too few or too many
fields, bytes that are not in the file's encoding) are kept as rejects with their line.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb

from knowledge.importers.base import DataFileError, require_file

Format = Literal["csv", "parquet"]
EMPTY = "the file is empty (expected a header and rows)"


@dataclass
class RawFile:
    """A raw file loaded as table ``name``: its columns, its rows (``_line`` = the file line of
    each row, the header being line 1) and the lines the reader rejected."""

    path: Path
    name: str
    columns: list[str]
    rows: int
    rejects: list[dict] = field(default_factory=list)  # file, line, column, reason, value


def file_format(path: Path, declared: Format | None = None) -> Format:
    if declared:
        return declared
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".gzip")]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    return "csv"


def _check_gzip(path: Path) -> None:
    """A truncated, corrupt or empty gzip file is one clear error, not a reader's stack trace."""
    if path.suffix.lower() not in (".gz", ".gzip"):
        return
    size = 0
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                size += len(chunk)
    except (EOFError, OSError, zlib.error) as err:
        raise DataFileError(path, f"cannot be read, the file is corrupt or truncated ({err})") from err
    if not size:
        raise DataFileError(path, EMPTY)


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, name: str, delimiter: str,
              encoding: str) -> list[dict]:
    _check_gzip(path)
    rejects, scans = f"{name}_rejects", f"{name}_scans"
    con.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {scans}")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM read_csv(?, all_varchar = true, "
            f"header = true, delim = ?, encoding = ?, store_rejects = true, "
            f"rejects_table = '{rejects}', rejects_scan = '{scans}', null_padding = false)",
            [str(path), delimiter, encoding])
    except duckdb.Error as err:
        raise DataFileError(path, f"not a readable CSV file ({str(err).splitlines()[0]})") from err
    found = con.execute(  # one row per rejected line: its first problem
        f"SELECT line, arg_min(column_name, column_idx), arg_min(error_type, column_idx), "
        f"any_value(csv_line) FROM {rejects} GROUP BY line ORDER BY line").fetchall()
    con.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {scans}")
    return [{"line": int(line), "column": column or "", "reason": _reader_reason(kind),
             "value": (text or "")[:200]} for line, column, kind, text in found]


def _reader_reason(kind: str) -> str:
    return {"INVALID ENCODING": "bytes that are not in the file's encoding (set encoding)",
            "MISSING COLUMNS": "too few fields", "TOO MANY COLUMNS": "too many fields",
            "UNQUOTED VALUE": "a quote in an unquoted value",
            "LINE SIZE OVER MAXIMUM": "line too long"}.get(kind, kind.lower())


def _number_lines(con: duckdb.DuckDBPyConnection, name: str, first_line: int,
                  rejected_lines: list[int]) -> None:
    """View ``name`` over table ``name_rows`` with ``_line``: insertion order is file order;
    lines the reader rejected are skipped (a quoted value spanning several lines counts as
    one). Data row r (from 0) comes after the i-th rejected line L_i (from 1) when
    r >= L_i - first_line - (i - 1). A view: the rows are not copied."""
    con.execute(f"ALTER TABLE {name} RENAME TO {name}_rows")
    if not rejected_lines:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT rowid + {first_line} AS _line, "
                    f"* FROM {name}_rows")
        return
    cuts = [(line - first_line - i, i + 1) for i, line in enumerate(sorted(rejected_lines))]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_cuts (t BIGINT, skipped BIGINT)")
    con.executemany(f"INSERT INTO {name}_cuts VALUES (?, ?)", cuts)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT r.rowid + {first_line} + "
        f"coalesce(c.skipped, 0) AS _line, r.* FROM {name}_rows r "
        f"ASOF LEFT JOIN {name}_cuts c ON r.rowid >= c.t")


def drop(con: duckdb.DuckDBPyConnection, raw: RawFile) -> None:
    """Drop a loaded file's view and tables."""
    con.execute(f"DROP VIEW IF EXISTS {raw.name}; DROP TABLE IF EXISTS {raw.name}_rows; "
                f"DROP TABLE IF EXISTS {raw.name}_cuts")


def load(con: duckdb.DuckDBPyConnection, path: Path, name: str, fmt: Format | None = None,
         delimiter: str = ",", encoding: str = "utf-8") -> RawFile:
    """Load ``path`` as temporary table ``name``; errors name the file and the problem."""
    path = Path(path)
    require_file(path)
    if path.stat().st_size == 0:
        raise DataFileError(path, EMPTY)
    if file_format(path, fmt) == "parquet":
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM read_parquet(?)",
                        [str(path)])
        except duckdb.Error as err:
            raise DataFileError(path, f"not a readable Parquet file "
                                      f"({str(err).splitlines()[0]})") from err
        rejects: list[dict] = []
        _number_lines(con, name, 1, [])
    else:
        rejects = _read_csv(con, path, name, delimiter, encoding)
        _number_lines(con, name, 2, [r["line"] for r in rejects])
    for r in rejects:
        r["file"] = str(path)
    columns = [c for c in con.execute(f"SELECT * FROM {name} LIMIT 0").fetchdf().columns
               if c != "_line"]
    rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    if rows == 0 and not rejects:
        raise DataFileError(path, "the file has a header but no rows")
    return RawFile(path, name, columns, rows, rejects)
