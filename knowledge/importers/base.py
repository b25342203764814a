"""What every importer shares: its report, its errors, and helpers to read raw files safely."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from pydantic import BaseModel, Field, TypeAdapter, ValidationError


class DataFileError(ValueError):
    """A raw file that cannot be imported. The message names the file and the problem."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class ImportReport(BaseModel):
    """What an import did, printed by the CLI and stored in the `imports` table."""

    source: str
    rows: dict[str, int] = Field(default_factory=dict, description="rows written per table")
    dropped: dict[str, int] = Field(
        default_factory=dict, description="raw rows skipped or changed, per reason"
    )
    raw: dict[str, int] = Field(
        default_factory=dict,
        description="counts in the raw files (lines, ids, ...), to compare with the SOURCE.md",
    )
    notes: list[str] = Field(default_factory=list)
    counts: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="own-shop imports: read / inserted / updated / unchanged / rejected per table",
    )
    rejects: list[dict] = Field(
        default_factory=list, description="own-shop imports: the first rejected rows (file, "
        "line, table, column, reason, value); all of them are in the import_rejects table")


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise DataFileError(path, "file not found (check --path, or data_dir in `shopmind config`)")
    return path


def read_csv(path: Path, required_columns: list[str], **kwargs: Any) -> pd.DataFrame:
    """Read a (possibly gzipped) CSV and check its header, with errors that name the file."""
    require_file(path)
    try:
        frame = pd.read_csv(path, **kwargs)
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile) as err:
        raise DataFileError(path, f"cannot be read, the file is corrupt or truncated ({err})") from err
    except pd.errors.EmptyDataError as err:
        raise DataFileError(path, "the file is empty (expected a CSV header and rows)") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataFileError(path, f"not a valid CSV file ({err})") from err
    missing = [c for c in required_columns if c not in frame.columns]
    if missing:
        raise DataFileError(
            path,
            f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}",
        )
    if frame.empty:
        raise DataFileError(path, "the file has a header but no rows")
    return frame


def read_json(path: Path) -> Any:
    """Read a (possibly gzipped) JSON file, with errors that name the file."""
    require_file(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            text = handle.read()
    except (EOFError, OSError, zlib.error, gzip.BadGzipFile) as err:
        raise DataFileError(path, f"cannot be read, the file is corrupt or truncated ({err})") from err
    except UnicodeDecodeError as err:
        raise DataFileError(path, f"not UTF-8 text ({err})") from err
    if not text.strip():
        raise DataFileError(path, "the file is empty (expected JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFileError(path, f"not valid JSON ({err})") from err


def validate(path: Path, shape: Any, data: Any) -> Any:
    """Check parsed JSON against a type (e.g. ``dict[str, User]``); errors name file and place."""
    try:
        return TypeAdapter(shape).validate_python(data)
    except ValidationError as err:
        problems = "; ".join(
            f"at {'.'.join(map(str, e['loc'])) or 'top level'}: {e['msg']}"
            for e in err.errors()[:3]
        )
        more = f" (and {err.error_count() - 3} more)" if err.error_count() > 3 else ""
        raise DataFileError(path, f"unexpected content {problems}{more}") from err


def _first_bad(path: Path, column: str, raw: pd.Series, bad: pd.Series, expected: str) -> None:
    if bad.any():
        row = bad.idxmax()
        value = "empty" if pd.isna(raw[row]) else repr(raw[row])
        raise DataFileError(
            path,
            f"column {column} has {int(bad.sum()):,} value(s) that are empty or not {expected}; "
            f"the first is {value} on line {row + 2} (line 1 is the header)",
        )


def numbers(path: Path, frame: pd.DataFrame, column: str, integer: bool = False) -> pd.Series:
    """A required numeric column. Pass it unparsed (or let pandas parse it: then this costs
    nothing); an empty value or one that is not a number is an error naming the line."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna()
    if integer:
        bad |= values != values.round()
    _first_bad(path, column, raw, bad, "integers" if integer else "numbers")
    return values.astype("int64") if integer else values.astype(float)


def one_of(path: Path, frame: pd.DataFrame, column: str, allowed: list[str]) -> pd.Series:
    """A required column whose values must be in `allowed`; anything else is an error."""
    raw = frame[column]
    _first_bad(path, column, raw, ~raw.isin(allowed), f"one of {', '.join(allowed)}")
    return raw


def most_common(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """The most frequent `value` per `key`, indexed by key (ties: the smallest value)."""
    counts = frame.groupby([key, value]).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", value], ascending=[True, False, True])
    return counts.drop_duplicates(key).set_index(key)[value]


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> int:
    """Delete every row of `table` and insert `frame` (columns by name; missing ones NULL)."""
    con.execute(f"DELETE FROM {table}")
    if frame.empty:
        return 0
    con.register("_incoming", frame)
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
    con.unregister("_incoming")
    return len(frame)
