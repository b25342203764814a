"""Segments over a warehouse: per-user facts held in memory, queries, and saved segments.

The warehouse is opened read-only only long enough to copy one per-user table into an
in-memory DuckDB (on the order of 100 bytes a user), then closed again: the file stays free for imports
and the customer-service tools, and every segment query afterwards is a scan over memory.
When the warehouse file changes, appended events (``knowledge.event_journal``, whichever
process appended them) recompute only their users' rows (the same ``FACTS_SQL``, restricted to
them); an event on a later day than the copy's "now" also adds the days to everyone's recency
columns, which is what a rebuild would compute. Anything else (an import, a customer-service
write, a saved segment) rebuilds the whole copy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from knowledge import event_journal, warehouse
from knowledge.segment_sql import (
    FACTS_SQL,
    NOW_SQL,
    Compiled,
    SegmentFilters,
    compile_where,
    facts_sql,
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


@dataclass
class SegmentEngine:
    """In-memory per-user facts of one warehouse version, ready for compiled queries."""

    path: Path
    version: tuple  # the warehouse file's state it reflects (event_journal.file_state)
    now: datetime | None
    con: duckdb.DuckDBPyConnection
    countries: dict[str, str]  # lower-case -> as stored
    categories: dict[str, str]
    users: int
    propensity_key: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    scores: pd.DataFrame | None = None  # what set_propensity last set, while every row has it

    @classmethod
    def load(cls, path: Path) -> SegmentEngine:
        source = warehouse.open_shared(path)  # a clear error if the file is missing
        version = event_journal.file_state(Path(path))
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

    def update_users(self, users: list[str], version: tuple, now: datetime) -> None:
        """Recompute the rows of `users` with FACTS_SQL as of `now` (a user without a row in
        `users` gets none, as in a full build); their probability is kept until the next
        ``set_propensity``. Call only when nothing but events of `users` at or before `now`
        changed the warehouse since this engine's version, and `now` is not before its "now".

        The other rows depend on "now" only through their two recency columns, day counts
        (``date_diff('day', last, now)``: day boundaries crossed, i.e. date(now) - date(last)).
        A "now" on a later day adds the same number of days to each, exactly what FACTS_SQL
        would compute: a shift of two integer columns, not a rebuild."""
        source = warehouse.open_shared(self.path)
        try:
            fresh = source.sql(facts_sql(users=True),
                               params={"now": now, "users": users}).to_arrow_table()
        finally:
            source.close()
        days = (now.date() - self.now.date()).days
        with self.lock:
            if days:
                self.con.execute("UPDATE user_facts SET days_since_purchase = "
                                 "days_since_purchase + $d, days_since_seen = days_since_seen + $d",
                                 {"d": days})
            self.con.register("_fresh", fresh)
            self.con.execute("CREATE TEMP TABLE _old AS SELECT user_id, probability "
                             "FROM user_facts WHERE user_id IN (SELECT unnest($users))",
                             {"users": users})
            self.con.execute("DELETE FROM user_facts WHERE user_id IN (SELECT user_id FROM _old)")
            self.con.execute("INSERT INTO user_facts SELECT n.* REPLACE (o.probability AS "
                             "probability) FROM _fresh n LEFT JOIN _old o USING (user_id)")
            [(removed,)] = self.con.execute("SELECT count(*) FROM _old").fetchall()
            self.con.execute("DROP TABLE _old")
            self.con.unregister("_fresh")
            self.users += fresh.num_rows - removed
            if fresh.num_rows > removed:  # a new row: its score may be in the next frame already
                self.scores = None
            self.version, self.now = version, now
        # an appended event adds to a user's facts: it never removes a country or a category
        for row in fresh.select(["country", "categories"]).to_pylist():
            if row["country"] is not None:
                self.countries.setdefault(row["country"].lower(), row["country"])
            for category in row["categories"]:
                self.categories.setdefault(category, category)

    def set_propensity(self, key: Any, scores: pd.DataFrame) -> None:
        """Set every user's purchase probability from ``scores`` (``user_id``, ``probability``);
        users without a score get NULL. When the users are those of the previous call, only the
        rows whose probability changed are written (after an event: that user's)."""
        frame = scores[["user_id", "probability"]].astype({"user_id": str, "probability": float})
        with self.lock:
            old = self.scores
            if old is not None and len(old) == len(frame) and \
                    (old["user_id"].to_numpy() == frame["user_id"].to_numpy()).all():
                new, was = frame["probability"].to_numpy(), old["probability"].to_numpy()
                changed = frame[(new != was) & ~(np.isnan(new) & np.isnan(was))]
                self.con.register("_scores", changed)
                self.con.execute("UPDATE user_facts SET probability = s.probability "
                                 "FROM _scores s WHERE user_facts.user_id = s.user_id")
            else:
                self.con.register("_scores", frame)
                self.con.execute("CREATE OR REPLACE TABLE user_facts AS SELECT f.* REPLACE "
                                 "(s.probability AS probability) FROM user_facts f "
                                 "LEFT JOIN _scores s USING (user_id)")
            self.con.unregister("_scores")
            self.propensity_key, self.scores = key, frame

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
    """The engine of the warehouse at ``path``, up to date with the file: after appended
    events (any process's), only their users' rows are recomputed (and, when one falls on a
    later day than the engine's "now", everyone's recency shifted by those days); after
    anything else it is rebuilt."""
    path = Path(path).resolve()
    with _ENGINES_LOCK:
        engine = _ENGINES.get(path)
        if engine is not None and path.is_file():
            version = event_journal.file_state(path)
            if engine.version == version:
                return engine
            changes = event_journal.between(path, engine.version, version)
            if changes is not None and engine.now is not None:
                engine.update_users(sorted({c.user_id for c in changes}), version,
                                    max(engine.now, *(c.ts for c in changes)))
                return engine
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
    with warehouse.transaction(path) as con:
        exists = con.execute("SELECT 1 FROM segments WHERE name = ?", [name]).fetchall()
        if exists and not replace:
            raise SegmentError(f"a segment named {name!r} exists already; choose another name "
                               "or replace it (--replace)")
        con.execute("DELETE FROM segments WHERE name = ?", [name])
        con.execute("INSERT INTO segments VALUES (?, ?, ?, ?)",
                    [name, filters.model_dump_json(exclude_none=True), description, datetime.now()])
    return {"name": name, "filters": filters.given(), "description": description}


def list_segments(path: Path) -> list[dict[str, Any]]:
    con = warehouse.open_shared(path)
    try:
        rows = con.execute(
            "SELECT name, filters, description, created_at FROM segments ORDER BY name").fetchall()
    finally:
        con.close()
    return [{"name": n, "filters": SegmentFilters.model_validate_json(f).given(),
             "description": d, "created_at": c.isoformat(timespec="seconds")}
            for n, f, d, c in rows]


def load_segment(path: Path, name: str) -> SegmentFilters:
    con = warehouse.open_shared(path)
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
