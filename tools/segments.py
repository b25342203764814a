"""`query_segment`: answer questions about groups of users from structured filters.

The model fills ``filters`` (see ``knowledge.segment_sql.SegmentFilters``) and may pick a
``group_by`` from a whitelist; the tool compiles them to parameterised SELECTs over in-memory
per-user facts of the warehouse and returns numbers, a sample, a grouped table, a chart and
the SQL that ran. ``resolve_segment`` turns a saved segment name or a filter object into user
ids for other tools (``suggest_intervention``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from knowledge.segment_sql import (
    GroupBy,
    SegmentFilters,
    compile_where,
    group_query,
    sample_query,
    summary_query,
)
from knowledge.segments import SegmentEngine, SegmentError, engine_for, load_segment
from knowledge.settings import Settings
from knowledge.warehouse import WarehouseMissingError
from tools.normalise import amount_arg, count_arg, days_arg, probability_arg
from tools.registry import ToolContext, ToolError, tool

PROPENSITY_EVENT, PROPENSITY_HORIZON_DAYS = "purchase", 30
# Filter values as a model may word them ("3 months", "500 pounds", "30%"), read before
# SegmentFilters (knowledge/segment_sql.py) checks the declared types, which the schema keeps.
WORDED_FILTERS: dict[str, Callable[[Any], Any]] = {
    "min_orders": count_arg, "max_orders": count_arg, "min_spend": amount_arg,
    "max_spend": amount_arg, "inactive_days_min": days_arg, "active_within_days": days_arg,
    "min_purchase_probability": probability_arg, "max_purchase_probability": probability_arg,
}
NO_MODEL = ("no purchase-propensity scores ({reason}); the purchase_probability filters and "
            "grouping need them")


def worded_filters(data: Any) -> Any:
    """Filters (an object or its JSON text) with worded values read; the rest is left to
    SegmentFilters, which names unknown keys and wrong types."""
    if isinstance(data, str) and data.strip().startswith("{"):
        try:
            data = json.loads(data)
        except json.JSONDecodeError:
            return data
    if not isinstance(data, dict):
        return data
    read: dict[str, Any] = {}
    for key, value in data.items():
        try:
            read[key] = WORDED_FILTERS[key](value) if key in WORDED_FILTERS else value
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from None
    return read


class QuerySegmentArgs(BaseModel):
    question: str = Field(..., min_length=1, max_length=2000,
                          description="The operator's question, in their words.")
    filters: SegmentFilters | None = Field(
        None, description="Who is in the segment; omitted keys do not filter. All keys optional.")
    group_by: GroupBy | None = Field(
        None, description="Break the segment down by this dimension (default: spend bands).")
    limit: int = Field(10, ge=1, le=100, description="How many example users to return.")
    segment: str | None = Field(
        None, min_length=1, max_length=64,
        description="Name of a saved segment to use instead of filters.")

    _filters = field_validator("filters", mode="before")(worded_filters)  # "3 months"
    _limit = field_validator("limit", mode="before")(count_arg)  # "a dozen", "twenty"

    @model_validator(mode="after")
    def _one_source(self) -> QuerySegmentArgs:
        if self.segment is not None and self.filters is not None:
            raise ValueError("give filters or a saved segment name, not both")
        return self

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is empty; pass the operator's question")
        return value


def propensity_key(settings: Settings, engine: SegmentEngine) -> tuple:
    """Scores are reloaded when the warehouse or the artifacts folder changes."""
    return (engine.version, str(settings.artifacts_dir), PROPENSITY_HORIZON_DAYS)


def _propensity(settings: Settings, engine: SegmentEngine) -> str | None:
    """Load purchase probabilities into the engine; returns None, or why they are missing."""
    key = propensity_key(settings, engine)
    if engine.propensity_key == key:
        return None
    from tools.behavior import population_scores  # loads model code: only when needed

    try:
        scores = population_scores(settings, PROPENSITY_EVENT, PROPENSITY_HORIZON_DAYS)
    except Exception as err:  # noqa: BLE001 - optional enrichment: the answer says why it is missing
        return str(err) if isinstance(err, ToolError) else f"{type(err).__name__}: {err}"
    engine.set_propensity(key, scores)
    return None


def _engine(settings: Settings) -> SegmentEngine:
    try:
        return engine_for(settings.warehouse)
    except WarehouseMissingError as err:
        raise ToolError(str(err)) from err


def _clean(value: Any) -> Any:
    """JSON-friendly values: NaN -> None, floats rounded for reading."""
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def _records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in rows]


def render_chart(rows: list[dict[str, Any]], group_by: str, path: Path) -> None:
    """Bar chart of users per group, written as PNG (matplotlib loaded only here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    labels = [str(r["group"]) for r in rows]
    ax.bar(labels, [r["users"] for r in rows], color="#4C72B0")
    ax.set_xlabel(group_by.replace("_", " "))
    ax.set_ylabel("users")
    ax.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0, labelsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def run_segment_query(settings: Settings, args: QuerySegmentArgs, chart: bool = True) -> dict:
    """The whole answer for one segment question; raises ToolError for fixable problems."""
    engine = _engine(settings)
    filters = parse_segment(settings, args.segment) if args.segment else args.filters
    filters = filters or SegmentFilters()
    group_by = args.group_by or "spend"
    try:
        filters = engine.normalise(filters)
    except SegmentError as err:
        raise ToolError(str(err)) from err
    missing = _propensity(settings, engine)
    if missing and (filters.needs_propensity() or group_by == "purchase_probability"):
        raise ToolError(NO_MODEL.format(reason=missing))
    base = compile_where(filters)
    queries = {"summary": summary_query(base), "sample": sample_query(base, args.limit),
               "groups": group_query(base, group_by)}
    summary, sample, groups = (_records(engine.run(q)) for q in queries.values())
    stats = summary[0]
    count = stats.pop("users")
    median, p90 = stats.pop("spend_quantiles") or (None, None)
    stats.update(spend_median=median, spend_p90=p90)
    result = {
        "question": args.question,
        "segment": args.segment,
        "filters": filters.given(),
        "as_of": engine.now.isoformat(sep=" ") if engine.now else None,
        "count": count,
        "share_of_users": round(count / engine.users, 4) if engine.users else None,
        "summary": stats,
        "sample": sample,
        "groups": {"by": group_by, "rows": groups},
        "chart": {"kind": "bar", "title": f"users by {group_by.replace('_', ' ')}",
                  "x": [r["group"] for r in groups], "y": [r["users"] for r in groups], "png": None},
        "sql": {name: q.show() for name, q in queries.items()},
        "sql_source": "user_facts: one row per user, copied read-only from the warehouse "
                      "(knowledge/segment_sql.py FACTS_SQL); now = as_of",
        "notes": [NO_MODEL.format(reason=missing)] if missing else [],
    }
    if chart and groups:
        key = json.dumps([engine.version, result["filters"], group_by], default=str)
        png = settings.artifacts_dir / "charts" / f"segment-{hashlib.sha1(key.encode()).hexdigest()[:16]}.png"
        if not png.is_file():
            render_chart(groups, group_by, png)
        result["chart"]["png"] = str(png)
    return result


def headline(result: dict) -> str:
    count, stats, filters = result["count"], result["summary"], result["filters"]
    if not count:
        return "No customer matches these filters."
    share = f" ({result['share_of_users']:.1%} of all users)" if result["share_of_users"] else ""
    given = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in filters.items())
    text = (f"{count:,} customers match {given or 'no filter (everyone)'}{share}. They spent "
            f"{stats['spend_total']:,.2f} in total, "
            f"{stats['spend_mean']:,.2f} on average, over {stats['orders_mean']:.1f} orders each")
    if stats.get("recency_days_median") is not None:
        text += f"; median {stats['recency_days_median']:.0f} days since the last purchase"
    return text + "."


@tool(
    "query_segment",
    "Answer a question about a group of customers (how many, how much they spend, how recently "
    "they bought, how likely they are to buy) from structured filters. Returns count, summary "
    "statistics, example users, a grouped table, a chart and the read-only SQL that ran.",
    QuerySegmentArgs,
    roles={"operator"},
    headline=headline,
)
def query_segment(ctx: ToolContext, args: QuerySegmentArgs) -> dict:
    return run_segment_query(ctx.settings, args)


def parse_segment(settings: Settings, segment: str | dict | SegmentFilters) -> SegmentFilters:
    """A saved segment name, a filter object, or a filter object as a JSON string -> filters."""
    if isinstance(segment, SegmentFilters):
        return segment
    try:
        if isinstance(segment, dict) or segment.strip().startswith("{"):
            return SegmentFilters.model_validate(worded_filters(segment))
        return load_segment(settings.warehouse, segment)
    except ValueError as err:  # pydantic's ValidationError and SegmentError are ValueErrors
        raise ToolError(f"segment {segment!r}: {err}") from err


def resolve_segment(settings: Settings, segment: str | dict | SegmentFilters) -> list[str]:
    """User ids in a segment (sorted), for tools that act on a segment."""
    filters = parse_segment(settings, segment)
    engine = _engine(settings)
    missing = _propensity(settings, engine)
    if missing and filters.needs_propensity():
        raise ToolError(NO_MODEL.format(reason=missing))
    try:
        return engine.members(filters)
    except SegmentError as err:
        raise ToolError(str(err)) from err
