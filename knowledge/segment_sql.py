"""Segment filters -> parameterised SQL. The only way a model's words reach the database.

The dialog model never writes SQL: it fills ``SegmentFilters`` (keys fixed by the tool contract
in DESIGN.md) and picks ``group_by`` from a whitelist. Values only ever travel as ``?``
parameters; column expressions come from constants in this file. ``run_select`` refuses any
statement that is not one single SELECT before it reaches DuckDB.

The queries read one in-memory table, ``user_facts``, that ``knowledge.segments`` builds from
the warehouse with ``FACTS_SQL``: a row per user with its orders, spend, recency, the list of
categories it bought and (once a behaviour model has scored everyone) its purchase probability.
One wide table keeps every filter a column scan, with no join, also at a million users.
Country and category values must first be mapped to the stored spelling
(``SegmentEngine.normalise``); the compiler matches them exactly.
"Now" is the warehouse's latest event or order time, not the wall clock, so a historical
dataset such as Online Retail (2010-2011) answers "inactive for 60 days" sensibly.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import duckdb
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _no_bool(value: Any) -> Any:
    # pydantic would quietly read true as 1; a boolean is never a count, amount or day number.
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")  # noqa: TRY004 (pydantic wants ValueError)
    return value


# Field before the validator, or the JSON schema shows "ge"/"le" instead of minimum/maximum.
Count = Annotated[int, Field(ge=0, le=10_000_000), BeforeValidator(_no_bool)]
Money = Annotated[float, Field(ge=0), BeforeValidator(_no_bool)]
Days = Annotated[int, Field(ge=0, le=36_500), BeforeValidator(_no_bool)]
Probability = Annotated[float, Field(ge=0, le=1), BeforeValidator(_no_bool)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class SegmentFilters(BaseModel):
    """Who is in the segment. Every key is optional; the keys given are AND-ed."""

    model_config = ConfigDict(extra="forbid")

    country: Name | list[Name] | None = Field(
        None, description="Country name, or a list of them (any matches). 'UK' and 'USA' are understood."
    )
    min_orders: Count | None = Field(None, description="At least this many orders (cancelled ones excluded).")
    max_orders: Count | None = Field(None, description="At most this many orders.")
    min_spend: Money | None = Field(None, description="Total spend at least this much, in the shop's currency.")
    max_spend: Money | None = Field(None, description="Total spend at most this much.")
    inactive_days_min: Days | None = Field(
        None,
        description="Lapsed buyers: bought at least once, but not in the last N days.",
    )
    active_within_days: Days | None = Field(
        None, description="Any activity (view, click, cart, purchase) in the last N days."
    )
    purchased_category: Name | None = Field(
        None, description="Bought at least one product of this category."
    )
    min_purchase_probability: Probability | None = Field(
        None, description="Predicted probability of buying in the next 30 days, at least this (0-1)."
    )
    max_purchase_probability: Probability | None = Field(
        None, description="Predicted probability of buying in the next 30 days, at most this (0-1)."
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, str):  # a model may send the object as a JSON string
            try:
                data = json.loads(data) if data.strip() else {}
            except json.JSONDecodeError as err:
                raise ValueError(f"filters must be a JSON object ({err})") from err
        if isinstance(data, dict):
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                hints = []
                for key in unknown:
                    close = difflib.get_close_matches(str(key), cls.model_fields, n=1)
                    hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
                raise ValueError(
                    f"unknown filter key(s) {', '.join(hints)}; allowed keys: "
                    + ", ".join(cls.model_fields)
                )
        return data

    @model_validator(mode="after")
    def _ranges(self) -> SegmentFilters:
        for low, high in [("min_orders", "max_orders"), ("min_spend", "max_spend"),
                          ("min_purchase_probability", "max_purchase_probability")]:
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{low} ({a}) is greater than {high} ({b}); no one can match")
        return self

    def countries(self) -> list[str]:
        if self.country is None:
            return []
        return [self.country] if isinstance(self.country, str) else list(self.country)

    def needs_propensity(self) -> bool:
        return self.min_purchase_probability is not None or self.max_purchase_probability is not None

    def given(self) -> dict[str, Any]:
        """Only the keys that were set: the canonical form stored with a saved segment."""
        return self.model_dump(exclude_none=True)


# Per-user facts computed from the warehouse once per warehouse version. `now` is passed in;
# {users} restricts every part to the users of $users (an appended event's user), or is empty.
_FACTS_TEMPLATE = """
WITH o AS (
    SELECT user_id, count(*) AS orders, coalesce(sum(total), 0) AS spend,
           min(ordered_at) AS first_order_at, max(ordered_at) AS last_order_at,
           arg_max(country, ordered_at) AS order_country
    FROM orders WHERE user_id IS NOT NULL AND status <> 'cancelled' {users}
    GROUP BY user_id
), e AS (
    SELECT user_id, max(ts) AS last_event_at,
           max(ts) FILTER (WHERE event_type = 'purchase') AS last_purchase_event_at
    FROM events WHERE TRUE {users} GROUP BY user_id
), bought AS (  -- categories from purchase events and from order lines, lower-cased
    SELECT user_id, lower(category) AS category FROM events
    WHERE event_type = 'purchase' AND category IS NOT NULL {users}
    UNION
    SELECT o.user_id, lower(p.category) FROM orders o
    JOIN order_items i USING (order_id) JOIN products p USING (product_id)
    WHERE o.user_id IS NOT NULL AND o.status <> 'cancelled' AND p.category IS NOT NULL
          {o_users}
), c AS (
    SELECT user_id, list(category ORDER BY category) AS categories FROM bought GROUP BY user_id
)
SELECT u.user_id,
       coalesce(u.country, o.order_country) AS country,
       coalesce(o.orders, 0)::INTEGER AS orders,
       coalesce(o.spend, 0)::DOUBLE AS spend,
       o.first_order_at,
       date_diff('day', greatest(o.last_order_at, e.last_purchase_event_at), $now) AS days_since_purchase,
       date_diff('day', greatest(o.last_order_at, e.last_event_at), $now) AS days_since_seen,
       coalesce(c.categories, []::VARCHAR[]) AS categories,
       CAST(NULL AS DOUBLE) AS probability
FROM users u LEFT JOIN o USING (user_id) LEFT JOIN e USING (user_id) LEFT JOIN c USING (user_id)
WHERE TRUE {u_users}
"""


def facts_sql(users: bool = False) -> str:
    """FACTS_SQL, or (users=True) the same query for the users of the $users parameter only."""
    only = "AND {}user_id IN (SELECT unnest($users))"
    return _FACTS_TEMPLATE.format(**{key: only.format(prefix) if users else "" for key, prefix in
                                     [("users", ""), ("o_users", "o."), ("u_users", "u.")]})


FACTS_SQL = facts_sql()

NOW_SQL = "SELECT greatest((SELECT max(ts) FROM events), (SELECT max(ordered_at) FROM orders))"


def _bands(column: str, edges: list[float], none_label: str, unit: str = "",
           integer: bool = False) -> tuple[str, str]:
    """CASE expression labelling ``column`` by bands [edge_i, edge_i+1), plus a sort key.
    Integer bands are labelled inclusively: edges [0, 1, 2, 5] -> "0", "1", "2-4", "5+"."""
    label = [f"CASE WHEN {column} IS NULL THEN '{none_label}'"]
    order = [f"CASE WHEN {column} IS NULL THEN -1"]
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else None
        top = high - 1 if integer and high is not None else high
        if high is None:
            text = f"{low:g}+"
        elif top == low:
            text = f"{low:g}"
        else:
            text = f"{low:g}-{top:g}"
        cond = f"{column} < {high}" if high is not None else "TRUE"
        label.append(f"WHEN {cond} THEN '{text}{unit}'")
        order.append(f"WHEN {cond} THEN {i}")
    return " ".join(label) + " END", " ".join(order) + " END"


GroupBy = Literal["country", "orders", "spend", "recency", "purchase_probability", "category",
                  "first_order_month"]

# group_by name -> (label expression, sort expression or None = by size). Constants only.
GROUPS: dict[str, tuple[str, str | None]] = {
    "country": ("coalesce(f.country, 'unknown')", None),
    "orders": _bands("f.orders", [0, 1, 2, 5, 10, 20], "none", integer=True),
    "spend": _bands("f.spend", [0, 50, 100, 250, 500, 1000, 5000], "none"),
    "recency": _bands("f.days_since_purchase", [0, 31, 91, 181, 366], "never bought", " days",
                      integer=True),
    "purchase_probability": _bands("f.probability", [0, 0.1, 0.2, 0.3, 0.5, 0.7], "no score"),
    "category": ("c.category", None),
    "first_order_month": ("coalesce(strftime(f.first_order_at, '%Y-%m'), 'never')",
                          "coalesce(strftime(f.first_order_at, '%Y-%m'), '0')"),
}
MAX_GROUPS = 30


@dataclass(frozen=True)
class Compiled:
    """A statement and its parameters, exactly as run (and shown to the operator)."""

    sql: str
    params: list[Any]

    def show(self) -> dict[str, Any]:
        return {"sql": self.sql.strip(), "params": self.params}


# filter key -> predicate over user_facts; the value is always bound as the one parameter.
PREDICATES: dict[str, str] = {
    "min_orders": "f.orders >= ?",
    "max_orders": "f.orders <= ?",
    "min_spend": "f.spend >= ?",
    "max_spend": "f.spend <= ?",
    "inactive_days_min": "f.days_since_purchase >= ?",
    "active_within_days": "f.days_since_seen <= ?",
    "purchased_category": "list_contains(f.categories, ?)",
    "min_purchase_probability": "f.probability >= ?",
    "max_purchase_probability": "f.probability <= ?",
}


def compile_where(filters: SegmentFilters) -> Compiled:
    """The FROM + WHERE part over ``user_facts f``, values as parameters."""
    where: list[str] = []
    params: list[Any] = []
    if filters.countries():
        where.append(f"f.country IN ({', '.join('?' for _ in filters.countries())})")
        params.extend(filters.countries())
    for key, predicate in PREDICATES.items():
        value = getattr(filters, key)
        if value is not None:
            where.append(predicate)
            params.append(value)
    sql = "FROM user_facts f" + (f"\nWHERE {' AND '.join(where)}" if where else "")
    return Compiled(sql, params)


def summary_query(base: Compiled) -> Compiled:
    sql = f"""SELECT count(*) AS users,
       sum(f.spend) AS spend_total, avg(f.spend) AS spend_mean,
       quantile_cont(f.spend, [0.5, 0.9]) AS spend_quantiles,
       avg(f.orders) AS orders_mean, median(f.orders) AS orders_median,
       avg(f.days_since_purchase) AS recency_days_mean,
       median(f.days_since_purchase) AS recency_days_median,
       avg(f.probability) AS purchase_probability_mean,
       median(f.probability) AS purchase_probability_median
{base.sql}"""
    return Compiled(sql, list(base.params))


def sample_query(base: Compiled, limit: int) -> Compiled:
    sql = f"""SELECT f.user_id, f.country, f.orders, round(f.spend, 2) AS spend,
       f.days_since_purchase, round(f.probability, 4) AS purchase_probability
{base.sql}
ORDER BY f.spend DESC, f.user_id
LIMIT ?"""
    return Compiled(sql, [*base.params, limit])


def group_query(base: Compiled, group_by: str) -> Compiled:
    if group_by not in GROUPS:  # the pydantic Literal already refuses these; keep the SQL safe anyway
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    label, order = GROUPS[group_by]
    source = base.sql
    if group_by == "category":  # a user counts once per category bought
        source = source.replace("FROM user_facts f", "FROM user_facts f, unnest(f.categories) "
                                "AS c(category)", 1)
    sort = f"min({order}), 1" if order else "users DESC, 1"
    sql = f"""SELECT {label} AS "group", count(*) AS users, round(avg(f.spend), 2) AS spend_mean,
       round(avg(f.orders), 2) AS orders_mean,
       round(avg(f.probability), 4) AS purchase_probability_mean
{source}
GROUP BY 1
ORDER BY {sort}
LIMIT {MAX_GROUPS}"""
    return Compiled(sql, list(base.params))


def members_query(base: Compiled) -> Compiled:
    return Compiled(f"SELECT f.user_id\n{base.sql}\nORDER BY f.user_id", list(base.params))


class NotASelectError(ValueError):
    """A statement that is not exactly one SELECT was about to run."""


def run_select(con: duckdb.DuckDBPyConnection, query: Compiled) -> duckdb.DuckDBPyRelation:
    """Execute ``query`` only if it parses as exactly one SELECT statement."""
    statements = con.extract_statements(query.sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise NotASelectError(f"refused to run a non-SELECT statement ({kinds}); "
                              "segment queries are read-only")
    return con.execute(query.sql, query.params)
