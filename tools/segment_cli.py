"""`shopmind segment ...`: ask segment questions and save segments from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from knowledge.segment_sql import SegmentFilters
from knowledge.segments import SegmentError, list_segments, save_segment
from knowledge.settings import Settings

segment_app = typer.Typer(help="Query user segments and save them by name.", no_args_is_help=True)
console = Console()

FILTERS_HELP = ('Filters as JSON, e.g. \'{"country": "UK", "min_spend": 500, '
                '"inactive_days_min": 60}\'. Keys: ' + ", ".join(SegmentFilters.model_fields))


def _filters(text: str) -> SegmentFilters:
    try:
        return SegmentFilters.model_validate(text)
    except ValidationError as err:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
        raise typer.BadParameter(problems, param_hint="--filters") from err


def _table(title: str, rows: list[dict]) -> Table:
    table = Table(*(rows[0].keys() if rows else ["(none)"]), title=title)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    return table


@segment_app.command("query")
def query_command(
    ctx: typer.Context,
    filters: str = typer.Option("{}", help=FILTERS_HELP),
    segment: str | None = typer.Option(None, help="A saved segment's name, instead of --filters."),
    question: str = typer.Option("segment query from the command line", help="Free text, echoed."),
    group_by: str | None = typer.Option(None, help="country, orders, spend, recency, "
                                        "purchase_probability, category or first_order_month."),
    limit: int = typer.Option(10, help="Example users to show (1-100)."),
    as_json: bool = typer.Option(False, "--json", help="Print the tool's JSON result."),
) -> None:
    """Count, summarise and break down the users matching --filters (read-only)."""
    from tools.registry import ToolContext, ToolError, get_tool

    settings: Settings = ctx.obj
    arguments = {"question": question, "limit": limit, "group_by": group_by,
                 **({"segment": segment} if segment else {"filters": _filters(filters).given()})}
    try:
        result = get_tool("query_segment").invoke(ToolContext(settings), arguments)
    except ToolError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from err
    if as_json:
        print(json.dumps(result, indent=2, default=str))
        return
    console.print(f"[bold]{result['count']:,}[/] users ({result['share_of_users']:.1%} of all) "
                  f"match {json.dumps(result['filters'])}; as of {result['as_of']}")
    console.print(_table("summary", [{"statistic": k, "value": v}
                                     for k, v in result["summary"].items()]))
    console.print(_table(f"by {result['groups']['by']}", result["groups"]["rows"]))
    console.print(_table("sample", result["sample"]))
    for note in result["notes"]:
        console.print(f"note: {note}")
    console.print(f"chart: {result['chart']['png']}")
    console.print(f"sql: {result['sql']['summary']['sql']}\nparams: {result['sql']['summary']['params']}")


@segment_app.command("save")
def save_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name to save the segment under."),
    filters: str = typer.Option(..., help=FILTERS_HELP),
    description: str | None = typer.Option(None, help="What the segment is for."),
    replace: bool = typer.Option(False, help="Overwrite a segment of the same name."),
) -> None:
    """Save --filters under NAME (in the warehouse's `segments` table)."""
    settings: Settings = ctx.obj
    try:
        saved = save_segment(settings.warehouse, name, _filters(filters), description, replace)
    except SegmentError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from err
    console.print(f"saved segment {saved['name']!r}: {json.dumps(saved['filters'])}")


@segment_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List the saved segments."""
    settings: Settings = ctx.obj
    rows = list_segments(settings.warehouse)
    for row in rows:
        row["filters"] = json.dumps(row["filters"])
    console.print(_table(f"saved segments in {settings.warehouse}", rows))


@segment_app.command("plan")
def plan_command(
    ctx: typer.Context,
    out: str = typer.Option(..., help="CSV file to write: user_id, campaign, arm, "
                             "estimated_uplift, expected_incremental_profit, cost."),
    segment: str | None = typer.Option(None, help="A saved segment's name (default: everyone)."),
    filters: str | None = typer.Option(None, help=FILTERS_HELP),
    channel: str | None = typer.Option(None, help="Only arms of this channel: email, coupon, ad."),
    budget: float | None = typer.Option(None, help="Total contact cost allowed."),
    max_users: int | None = typer.Option(None, help="Treat at most this many users."),
) -> None:
    """Export suggest_intervention's plan as a CSV of user ids per arm, for the shop's e-mail
    or ad tool (needs an uplift model: `shopmind train uplift`)."""
    import csv

    from tools.intervention import plan_rows
    from tools.registry import ToolError

    settings: Settings = ctx.obj
    target = segment if segment else (_filters(filters).given() if filters else None)
    try:
        rows = plan_rows(settings, target, channel, budget, max_users)
    except ToolError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from err
    columns = ["user_id", "campaign", "arm", "estimated_uplift", "expected_incremental_profit",
               "cost"]
    with Path(out).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[f"{row['campaign']}:{row['arm']}"] = counts.get(f"{row['campaign']}:{row['arm']}", 0) + 1
    console.print(f"wrote {len(rows):,} users to {out}: "
                  + (", ".join(f"{arm} {n:,}" for arm, n in counts.items()) or "nobody to treat"))
