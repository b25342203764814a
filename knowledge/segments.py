"""Segments over a warehouse: per-user facts held in memory, queries, and saved segments.

The warehouse is opened read-only only long enough to copy one per-user table into an
in-memory DuckDB (on the order of 100 bytes a user), then closed again: the file stays free for imports
and the customer-service tools, and every segment query afterwards is a scan over memory.
The copy is rebuilt when the warehouse file changes (size or modification time).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from knowledge import warehouse
from knowledge.segment_sql import (
    FACTS_SQL,
    NOW_SQL,
    Compiled,
    SegmentFilters,
    compile_where,
    members_query,
    run_select,
)

COUNTRY_ALIASES = {
    "uk": "united kingdom", "gb": "united kingdom", "great britain": "united kingdom",
    "britain": "united kingdom", "england": "united kingdom", "us": "usa",
    "united states": "usa", "united states of america": "usa", "ireland": "eire",
}


class SegmentError(ValueError):
    """A segment request that cannot be answered; the message says how to fix it."""


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@dataclass
class SegmentEngine:
    """In-memory per-user facts of one warehouse version, ready for compiled queries."""

    path: Path
    version: tuple[int, int]
    now: datetime | None
    con: duckdb.DuckDBPyConnection
    countries: dict[str, str]  # lower-case -> as stored
    categories: dict[str, str]
    users: int
    propensity_key: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, path: Path) -> SegmentEngine:
        source = warehouse.connect(path, read_only=True)  # a clear error if the file is missing
        version = _version(Path(path))
        try:
            now = source.execute(NOW_SQL).fetchall()[0][0]
            facts = source.sql(FACTS_SQL, params={"now": now}).to_arrow_table()
        finally:
            source.close()
        con = duckdb.connect()
        con.register("_facts", facts)
        con.execute("CREATE TABLE user_facts AS SELECT * FROM _facts")
        con.unregister("_facts")
        countries = {r[0].lower(): r[0] for r in con.execute(
            "SELECT DISTINCT country FROM user_facts WHERE country IS NOT NULL").fetchall()}
        categories = {r[0]: r[0] for r in con.execute(
            "SELECT DISTINCT unnest(categories) FROM user_facts").fetchall()}
        users = con.execute("SELECT count(*) FROM user_facts").fetchall()[0][0]
        return cls(Path(path), version, now, con, countries, categories, users)

    def set_propensity(self, key: Any, scores: pd.DataFrame) -> None:
        """Set every user's purchase probability from ``scores`` (``user_id``, ``probability``);
        users without a score get NULL."""
        frame = scores[["user_id", "probability"]].astype({"user_id": str, "probability": float})
        with self.lock:
            self.con.register("_scores", frame)
            self.con.execute("CREATE OR REPLACE TABLE user_facts AS SELECT f.* REPLACE "
                             "(s.probability AS probability) FROM user_facts f "
                             "LEFT JOIN _scores s USING (user_id)")
            self.con.unregister("_scores")
            self.propensity_key = key

    def normalise(self, filters: SegmentFilters) -> SegmentFilters:
        """Map country aliases to the stored names; refuse unknown countries and categories
        with the list of known ones, so the model can correct itself."""
        update: dict[str, Any] = {}
        if filters.countries():
            resolved = []
            for name in filters.countries():
                key = name.strip().lower()
                key = key if key in self.countries else COUNTRY_ALIASES.get(key, key)
                if key not in self.countries:
                    raise SegmentError(
                        f"no customers in country {name!r}; known countries: "
                        + ", ".join(sorted(self.countries.values())[:60]))
                resolved.append(self.countries[key])
            update["country"] = resolved[0] if len(resolved) == 1 else resolved
        if filters.purchased_category is not None:
            key = filters.purchased_category.strip().lower()
            if key not in self.categories:
                known = ", ".join(sorted(self.categories)[:60]) or "none (this shop has no categories)"
                raise SegmentError(f"unknown category {filters.purchased_category!r}; known: {known}")
            update["purchased_category"] = key
        return filters.model_copy(update=update)

    def run(self, query: Compiled) -> list[dict[str, Any]]:
        """Rows as dicts (plain Python values; small results, so no DataFrame overhead)."""
        with self.lock:
            cursor = run_select(self.con, query)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def members(self, filters: SegmentFilters) -> list[str]:
        return [r["user_id"] for r in self.run(members_query(compile_where(self.normalise(filters))))]


_ENGINES: dict[Path, SegmentEngine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(path: Path) -> SegmentEngine:
    """The engine of the warehouse at ``path``, rebuilt if the file changed since it was loaded."""
    path = Path(path).resolve()
    with _ENGINES_LOCK:
        engine = _ENGINES.get(path)
        if engine is None or not path.is_file() or engine.version != _version(path):
            engine = SegmentEngine.load(path)
            _ENGINES[path] = engine
        return engine


# ---- saved segments: rows of the warehouse's `segments` table -------------------------------

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-. ")


def check_name(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > 64 or not set(clean.lower()) <= NAME_CHARS:
        raise SegmentError(
            f"segment name {name!r} is not valid: use 1-64 letters, digits, spaces, '_', '-' or '.'")
    return clean


def save_segment(path: Path, name: str, filters: SegmentFilters, description: str | None = None,
                 replace: bool = False) -> dict[str, Any]:
    """Store ``filters`` under ``name``, checked against the warehouse and with countries
    spelled as stored. An existing name needs ``replace=True``."""
    name = check_name(name)
    filters = engine_for(path).normalise(filters)
    con = warehouse.connect(path, read_only=False)
    try:
        exists = con.execute("SELECT 1 FROM segments WHERE name = ?", [name]).fetchall()
        if exists and not replace:
            raise SegmentError(f"a segment named {name!r} exists already; choose another name "
                               "or replace it (--replace)")
        con.execute("DELETE FROM segments WHERE name = ?", [name])
        con.execute("INSERT INTO segments VALUES (?, ?, ?, ?)",
                    [name, filters.model_dump_json(exclude_none=True), description, datetime.now()])
    finally:
        con.close()
    return {"name": name, "filters": filters.given(), "description": description}


def list_segments(path: Path) -> list[dict[str, Any]]:
    con = warehouse.connect(path, read_only=True)
    try:
        rows = con.execute(
            "SELECT name, filters, description, created_at FROM segments ORDER BY name").fetchall()
    finally:
        con.close()
    return [{"name": n, "filters": SegmentFilters.model_validate_json(f).given(),
             "description": d, "created_at": c.isoformat(timespec="seconds")}
            for n, f, d, c in rows]


def load_segment(path: Path, name: str) -> SegmentFilters:
    con = warehouse.connect(path, read_only=True)
    try:
        rows = con.execute("SELECT filters FROM segments WHERE name = ?", [name.strip()]).fetchall()
        if not rows:
            names = [r[0] for r in con.execute("SELECT name FROM segments ORDER BY name").fetchall()]
    finally:
        con.close()
    if not rows:
        known = ", ".join(names) or "none saved yet (`shopmind segment save NAME --filters JSON`)"
        raise SegmentError(f"no saved segment named {name!r}; saved segments: {known}")
    return SegmentFilters.model_validate_json(rows[0][0])
