"""Merge incoming rows into a warehouse table by key, counting what was new, what changed and
what was already there. Values the incoming rows leave empty never erase stored ones, so two
sources that fill different columns of one table (purchase history, customer-service records)
combine instead of overwriting each other.
"""

from __future__ import annotations

import duckdb
from pydantic import BaseModel


class Counts(BaseModel):
    """What one table got from one import."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: Counts) -> Counts:
        return Counts(**{k: getattr(self, k) + getattr(other, k) for k in Counts.model_fields})


def _cols(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def upsert(con: duckdb.DuckDBPyConnection, target: str, incoming: str, key: list[str],
           values: list[str], insert_defaults: dict[str, str] | None = None) -> Counts:
    """Merge the rows of SQL query ``incoming`` (columns ``key + values``, one row per key)
    into ``target``: new keys are inserted (empty values filled from ``insert_defaults``, SQL
    expressions), stored keys get the non-empty incoming values that differ."""
    defaults = insert_defaults or {}
    con.execute(f"CREATE OR REPLACE TEMP TABLE _incoming AS {incoming}")
    match = " AND ".join(f't."{k}" = i."{k}"' for k in key)
    differs = " OR ".join(f'(i."{v}" IS NOT NULL AND i."{v}" IS DISTINCT FROM t."{v}")'
                          for v in values) or "FALSE"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _merge AS
        SELECT i.*, t."{key[0]}" IS NULL AS _new, t."{key[0]}" IS NOT NULL AND ({differs}) AS _changed
        FROM _incoming i LEFT JOIN {target} t ON {match}""")
    inserted, updated, unchanged = _tally(con, "_merge")
    if updated:
        sets = ", ".join(f'"{v}" = coalesce(excluded."{v}", "{v}")' for v in values)
        con.execute(f"INSERT INTO {target} ({_cols(key + values)}) SELECT {_cols(key + values)} "
                    f"FROM _merge WHERE _changed ON CONFLICT ({_cols(key)}) DO UPDATE SET {sets}")
    if inserted:
        filled = [f'coalesce("{c}", {defaults[c]})' if c in defaults else f'"{c}"'
                  for c in key + values]
        con.execute(f"INSERT INTO {target} ({_cols(key + values)}) SELECT {', '.join(filled)} "
                    f"FROM _merge WHERE _new")
    con.execute("DROP TABLE _merge; DROP TABLE _incoming")
    return Counts(inserted=inserted, updated=updated, unchanged=unchanged)


def replace_children(con: duckdb.DuckDBPyConnection, target: str, incoming: str, parent: str,
                     seq: str, values: list[str]) -> Counts:
    """Rows that belong to a parent (an order's lines, its payments): for every parent in
    ``incoming`` the incoming rows become its rows. Counted per row: a (parent, seq) that was
    not stored is inserted, one stored with other values is updated, the rest unchanged."""
    cols = [parent, seq, *values]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _incoming AS {incoming}")
    same = " AND ".join(f't."{c}" IS NOT DISTINCT FROM i."{c}"' for c in values)
    inserted, updated, unchanged = con.execute(f"""
        SELECT count(*) FILTER (WHERE t."{parent}" IS NULL),
               count(*) FILTER (WHERE t."{parent}" IS NOT NULL AND NOT ({same})),
               count(*) FILTER (WHERE t."{parent}" IS NOT NULL AND ({same}))
        FROM _incoming i LEFT JOIN {target} t ON t."{parent}" = i."{parent}" AND t."{seq}" = i."{seq}"
    """).fetchone()
    gone = con.execute(f"""SELECT count(*) FROM {target} t WHERE t."{parent}" IN
        (SELECT "{parent}" FROM _incoming) AND NOT EXISTS (SELECT 1 FROM _incoming i
        WHERE i."{parent}" = t."{parent}" AND i."{seq}" = t."{seq}")""").fetchone()[0]
    if inserted and not (updated or unchanged or gone):  # every row new: nothing to replace
        con.execute(f"INSERT INTO {target} ({_cols(cols)}) SELECT {_cols(cols)} FROM _incoming")
    elif inserted or updated or gone:
        changed = f"""(SELECT DISTINCT i."{parent}" FROM _incoming i LEFT JOIN {target} t
            ON t."{parent}" = i."{parent}" AND t."{seq}" = i."{seq}"
            WHERE t."{parent}" IS NULL OR NOT ({same})
            UNION SELECT t."{parent}" FROM {target} t WHERE t."{parent}" IN
            (SELECT "{parent}" FROM _incoming) AND NOT EXISTS (SELECT 1 FROM _incoming i
            WHERE i."{parent}" = t."{parent}" AND i."{seq}" = t."{seq}"))"""
        con.execute(f"CREATE OR REPLACE TEMP TABLE _changed AS {changed}")
        con.execute(f'DELETE FROM {target} WHERE "{parent}" IN (SELECT "{parent}" FROM _changed)')
        con.execute(f'INSERT INTO {target} ({_cols(cols)}) SELECT {_cols(cols)} FROM _incoming '
                    f'WHERE "{parent}" IN (SELECT "{parent}" FROM _changed)')
        con.execute("DROP TABLE _changed")
    con.execute("DROP TABLE _incoming")
    return Counts(inserted=inserted, updated=updated + gone, unchanged=unchanged)


def insert_new(con: duckdb.DuckDBPyConnection, target: str, incoming: str,
               identity: list[str], columns: list[str]) -> Counts:
    """Rows without a key of their own (behaviour events): a row whose ``identity`` columns
    match a stored row is that row (updated if its other columns differ), the rest are new."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _incoming AS {incoming}")
    match = " AND ".join(f't."{c}" IS NOT DISTINCT FROM i."{c}"' for c in identity)
    rest = [c for c in columns if c not in identity]
    same = " AND ".join(f't."{c}" IS NOT DISTINCT FROM i."{c}"' for c in rest) or "TRUE"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _merge AS SELECT i.*,
        NOT EXISTS (SELECT 1 FROM {target} t WHERE {match}) AS _new,
        EXISTS (SELECT 1 FROM {target} t WHERE {match}) AND NOT EXISTS
            (SELECT 1 FROM {target} t WHERE {match} AND {same}) AS _changed
        FROM _incoming i""")
    inserted, updated, unchanged = _tally(con, "_merge")
    if updated:
        con.execute(f"DELETE FROM {target} t WHERE EXISTS (SELECT 1 FROM _merge i "
                    f"WHERE i._changed AND {match})")
    if inserted or updated:
        con.execute(f"INSERT INTO {target} ({_cols(columns)}) SELECT {_cols(columns)} FROM _merge "
                    f"WHERE _new OR _changed")
    con.execute("DROP TABLE _merge; DROP TABLE _incoming")
    return Counts(inserted=inserted, updated=updated, unchanged=unchanged)


def _tally(con: duckdb.DuckDBPyConnection, table: str, rows: str = "1") -> tuple[int, int, int]:
    """(new, changed, unchanged) row counts of a classified temp table (``_new``, ``_changed``;
    ``rows``: how many rows each line stands for)."""
    parts = [f"coalesce(sum({rows}) FILTER (WHERE {cond}), 0)"
             for cond in ("_new", "_changed", "NOT _new AND NOT _changed")]
    new, changed, unchanged = con.execute(f"SELECT {', '.join(parts)} FROM {table}").fetchone()
    return int(new), int(changed), int(unchanged)


def replace_groups(con: duckdb.DuckDBPyConnection, target: str, incoming: str, group: str,
                   columns: list[str], scope: str = "TRUE", groups: str | None = None) -> Counts:
    """Rows derived per group (an order's purchase events): a group whose incoming rows differ
    from its stored rows (among those matching SQL ``scope``) is replaced as a whole; the
    stored rows of a group listed by SQL ``groups`` but absent from ``incoming`` are deleted
    (counted as updated)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _incoming AS {incoming}")
    gone = 0
    if groups:
        gone = con.execute(f'DELETE FROM {target} WHERE {scope} AND "{group}" IN ({groups}) '
                           f'AND "{group}" NOT IN (SELECT "{group}" FROM _incoming)').fetchone()[0]
    stored = con.execute(f'SELECT count(*) FROM (SELECT 1 FROM {target} WHERE {scope} AND '
                         f'"{group}" IN (SELECT "{group}" FROM _incoming) LIMIT 1)').fetchone()[0]
    if not stored:  # no incoming group is stored yet: every row is new, no digests needed
        inserted = con.execute(f'INSERT INTO {target} ({_cols(columns)}) SELECT '
                               f'{_cols(columns)} FROM _incoming WHERE "{group}" IS NOT NULL'
                               ).fetchone()[0]
        con.execute("DROP TABLE _incoming")
        return Counts(inserted=inserted, updated=gone)
    row = "concat_ws('|', " + ", ".join(f'coalesce("{c}"::VARCHAR, \'\')' for c in columns) + ")"
    digest = f"md5(string_agg({row}, '#' ORDER BY {row}))"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _groups AS
        WITH i AS (SELECT "{group}" AS g, {digest} AS h, count(*) AS n FROM _incoming GROUP BY 1),
        t AS (SELECT "{group}" AS g, {digest} AS h FROM {target}
              WHERE {scope} AND "{group}" IN (SELECT g FROM i) GROUP BY 1)
        SELECT i.g, i.n, t.g IS NULL AS _new, t.g IS NOT NULL AND t.h <> i.h AS _changed
        FROM i LEFT JOIN t ON t.g = i.g""")
    inserted, updated, unchanged = _tally(con, "_groups", rows="n")
    if updated:
        con.execute(f'DELETE FROM {target} WHERE {scope} AND "{group}" IN '
                    f'(SELECT g FROM _groups WHERE _changed)')
    if inserted or updated:
        con.execute(f'INSERT INTO {target} ({_cols(columns)}) SELECT {_cols(columns)} FROM _incoming '
                    f'WHERE "{group}" IN (SELECT g FROM _groups WHERE _new OR _changed)')
    con.execute("DROP TABLE _groups; DROP TABLE _incoming")
    return Counts(inserted=inserted, updated=updated + gone, unchanged=unchanged)
