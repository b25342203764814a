"""Turn a raw file's rows into one shopmind table's typed rows, in SQL. A row that fails a type,
required-value, range, currency or duplicate-key check goes to the run's rejects table with
its file, line, column, reason and value; it is never dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from knowledge.importers.base import DataFileError
from knowledge.importers.shop_mapping import Extract
from knowledge.importers.shop_tables import KEYS, TABLES, Column
from knowledge.importers.sql_text import literal, quote_ident

REJECTS = "_import_rejects"
KIND_WORDS = {"int": "not a whole number", "number": "not a number",
              "timestamp": "not a timestamp", "bool": "not yes/no (true, false, 1, 0, yes, no)"}
OFFSET_FORMAT = "%Y-%m-%d %H:%M:%S %z"  # Shopify: 2024-01-05 10:20:30 -0500


def create_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {REJECTS} (file VARCHAR, line BIGINT, "
                f"tbl VARCHAR, col VARCHAR, reason VARCHAR, value VARCHAR)")


def add_rejects(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    if rows:
        con.executemany(f"INSERT INTO {REJECTS} VALUES (?, ?, ?, ?, ?, ?)",
                        [[r["file"], r["line"], table, r["column"], r["reason"], r["value"]]
                         for r in rows])


def _timestamp(raw: str, timezone: str, fmt: str | None) -> str:
    """Local shop time (naive TIMESTAMP): an offset in the value converts to the shop's zone."""
    zone = "'" + timezone.replace("'", "''") + "'"
    if fmt:
        quoted = "'" + fmt.replace("'", "''") + "'"
        parsed = f"try_strptime({raw}, {quoted})"
        return f"timezone({zone}, {parsed})" if "%z" in fmt or "%Z" in fmt else parsed
    return (f"coalesce(timezone({zone}, try_strptime({raw}, '{OFFSET_FORMAT}')), "
            f"timezone({zone}, try_cast({raw} AS TIMESTAMPTZ)))")


def _typed(col: Column, raw: str, timezone: str, fmt: str | None) -> str:
    if col.kind == "text":
        return raw
    if col.kind == "number":
        return f"try_cast({raw} AS DOUBLE)"
    if col.kind == "int":
        return (f"CASE WHEN try_cast({raw} AS DOUBLE) = round(try_cast({raw} AS DOUBLE)) "
                f"THEN try_cast(try_cast({raw} AS DOUBLE) AS BIGINT) END")
    if col.kind == "bool":
        return (f"CASE WHEN lower({raw}) IN ('1', 'true', 'yes', 'y', 't') THEN TRUE "
                f"WHEN lower({raw}) IN ('0', 'false', 'no', 'n', 'f') THEN FALSE END")
    return _timestamp(raw, timezone, fmt)


def _failure(col: Column, name: str, raw: str, currency: str | None) -> list[str]:
    """CASE branches that name this column's first failed check."""
    def fail(reason: str) -> str:
        return (f"{{'col': '{col.name}', 'reason': '{reason}', "
                f"'value': left({raw}::VARCHAR, 200)}}")

    out = []
    if col.kind != "text":
        out.append(f"WHEN {raw} IS NOT NULL AND {name} IS NULL THEN {fail(KIND_WORDS[col.kind])}")
    if col.required:
        out.append(f"WHEN {raw} IS NULL THEN {fail('is empty')}")
    if col.check:
        check = re.sub(r"\bv\b", name, col.check)
        out.append(f"WHEN {name} IS NOT NULL AND NOT ({check}) THEN {fail(col.reason or 'fails a check')}")
    if col.name == "currency" and currency:
        out.append(f"WHEN {name} IS NOT NULL AND upper({name}) <> '{currency}' "
                   f"THEN {fail('is not the shop currency ' + currency)}")
    return out


@dataclass
class Staged:
    """What ``stage`` did with a file's rows for one table."""

    name: str  # the stage table
    kept: int
    rejected: int
    skipped: dict[str, int] = field(default_factory=dict)  # per reason of ``Extract.skips``


def _skip_case(extract: Extract) -> str:
    branches = " ".join(f"WHEN {condition} THEN {literal(reason)}"
                        for reason, condition in extract.skips)
    return f"CASE {branches} END" if branches else "NULL::VARCHAR"


def _keep_skipped_customers(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """Customers named only by skipped lines are still customers (``add_missing_users``)."""
    if extract.table != "order_lines" or "customer_id" not in extract.exprs:
        return
    country = "country" if "country" in extract.exprs else "NULL::VARCHAR AS country"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE stage_skipped_customers AS
        SELECT customer_id, {country} FROM _checked
        WHERE _skip IS NOT NULL AND customer_id IS NOT NULL""")


def stage(con: duckdb.DuckDBPyConnection, raw_table: str, extract: Extract, timezone: str,
          currency: str | None) -> Staged:
    """Typed rows of ``extract`` as temporary table ``stage_<table>`` (with ``_file``,
    ``_line`` and any covariates). A row an ``Extract.skips`` rule matches is left out before
    any check and counted under that rule's reason."""
    table = extract.table
    columns = [c for c in TABLES[table] if c.name in extract.exprs]
    missing = [c.name for c in TABLES[table] if c.required and c.name not in extract.exprs]
    if missing:
        raise DataFileError(extract.file, f"missing column(s) {', '.join(missing)} for the "
                                          f"{table} table (map them in shop.yaml: tables.{table}"
                                          f".columns)")
    pre = ", ".join(f"{extract.exprs[c.name]} AS {quote_ident('_raw_' + c.name)}" for c in columns)
    covariates = "".join(f", {quote_ident(c)} AS {quote_ident('_cov_' + c)}"
                         for c in extract.covariates)
    typed = ", ".join(
        f"{_typed(c, quote_ident('_raw_' + c.name), timezone, extract.timestamp_format)} "
        f"AS {quote_ident(c.name)}" for c in columns)
    branches = " ".join(b for c in columns for b in _failure(
        c, quote_ident(c.name), quote_ident("_raw_" + c.name), currency))
    fail = f"CASE WHEN _skip IS NULL THEN CASE {branches} END END" if branches else "NULL"
    keep = [quote_ident(c.name) if c in columns else f"NULL::{c.sql_type} AS {quote_ident(c.name)}"
            for c in TABLES[table]] + [quote_ident("_cov_" + c) for c in extract.covariates]
    key = KEYS.get(table)
    dup = "FALSE"
    first = "NULL"
    last = extract.duplicates == "last"
    if key and all(k in extract.exprs for k in key):
        part = ", ".join(quote_ident(k) for k in key)
        order = "_line DESC" if last else "_line"
        good = "_fail IS NULL AND _skip IS NULL"
        dup = f"row_number() OVER (PARTITION BY {good}, {part} ORDER BY {order}) > 1"
        first = f"min(_line) OVER (PARTITION BY {good}, {part})"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _checked AS
        WITH pre AS (SELECT _line, {pre}{covariates} FROM {raw_table}
                     WHERE {(extract.where or "TRUE").replace("{raw}", raw_table)}),
        typed AS (SELECT *, {typed} FROM pre),
        skipped AS (SELECT *, {_skip_case(extract)} AS _skip FROM typed),
        failed AS (SELECT *, {fail} AS _fail FROM skipped)
        SELECT *, _fail IS NULL AND _skip IS NULL AND {dup} AS _dup, {first} AS _first
        FROM failed""")
    file = str(extract.file).replace("'", "''")
    key_name = " + ".join(key) if key else ""
    con.execute(f"""
        INSERT INTO {REJECTS}
        SELECT '{file}', _line, '{table}', _fail.col, _fail.reason, _fail.value
        FROM _checked WHERE _fail IS NOT NULL
        UNION ALL
        SELECT '{file}', _line, '{table}', '{key_name}',
               'duplicate key (first on line ' || _first || ')', NULL
        FROM _checked WHERE _dup AND NOT {last}""")
    name = f"stage_{table}"
    good = "_skip IS NULL AND _fail IS NULL AND NOT _dup"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT '{file}' AS _file, _line, "
                f"{', '.join(keep)} FROM _checked WHERE {good}")
    kept, rejected = con.execute(
        f"SELECT count(*) FILTER (WHERE {good}), "
        f"count(*) FILTER (WHERE _fail IS NOT NULL OR (_dup AND NOT {last})) "
        f"FROM _checked").fetchone()
    skipped = dict(con.execute("SELECT _skip, count(*) FROM _checked WHERE _skip IS NOT NULL "
                               "GROUP BY _skip").fetchall())
    if skipped:
        _keep_skipped_customers(con, extract)
    con.execute("DROP TABLE _checked")
    return Staged(name, kept, rejected, skipped)
