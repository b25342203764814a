"""`shopmind data ...`: import sources into the warehouse and look at what is there."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from knowledge import warehouse
from knowledge.importers import SOURCES, ImportReport, default_source_dir, get_importer
from knowledge.settings import Settings

app = typer.Typer(help="Import data into the warehouse and inspect it.", no_args_is_help=True)
index_app = typer.Typer(help="Build the search indexes (products, knowledge base).",
                        no_args_is_help=True)
console = Console()


def import_source(settings: Settings, source: str, path: Path | None = None,
                  into: Path | None = None, **options):
    """Import one source atomically; returns (warehouse path, report). ``options`` go to the
    own-shop importers (progress, timezone, currency); an own-shop import that would change
    nothing leaves the warehouse file untouched (not even the imports log)."""
    from knowledge.importers.own_shop import NothingChanged

    importer = get_importer(source)
    source_dir = path or default_source_dir(source, settings)
    target = into or (settings.warehouse_path or settings.warehouse_for(source))
    try:
        with warehouse.atomic_update(target) as con:
            con.execute(f"SET memory_limit = '{settings.import_memory_gib:g}GiB'")
            report = importer(con, source_dir, settings, **options)
            con.execute(
                "INSERT INTO imports VALUES (?, ?, ?, ?)",
                [source, datetime.now(), json.dumps({"path": str(source_dir)}),
                 report.model_dump_json()],
            )
    except NothingChanged as unchanged:
        report = unchanged.report
        report.notes.append("nothing changed: the warehouse file was left as it was")
    return target, report


@app.command("import")
def import_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., help=f"One of: {', '.join(SOURCES)}"),
    path: Path | None = typer.Option(None, help="Where the raw data is: the source's folder "
                                     "(default: data_dir/<source folder>); shop: a shop.yaml or "
                                     "its folder; shopify, transactions: the export file."),
    into: Path | None = typer.Option(None, help="Warehouse file to write (default: "
                                     "warehouse_dir/<source>.duckdb). Several sources may share one."),
    timezone: str | None = typer.Option(None, help="shopify/transactions: the shop's time zone "
                                        "(IANA name, default UTC); timestamps with an offset are "
                                        "converted to it."),
    currency: str | None = typer.Option(None, help="shopify/transactions: the shop's currency "
                                        "(ISO code); rows in another currency are rejected."),
    timestamp_format: str | None = typer.Option(
        None, help="shopify/transactions: strptime format of the file's timestamps, e.g. "
        "'%m/%d/%Y %H:%M' (default: ISO 8601, with or without an offset)."),
) -> None:
    """Import SOURCE into a warehouse. Atomic: a failed import leaves the old file untouched.
    shop, shopify and transactions (a shop's own data) merge by key: run them again with next
    week's export to add what is new (docs/own_shop.md)."""
    from knowledge.importers import OWN_SHOP_SOURCES
    from knowledge.importers.presets import PRESETS

    settings: Settings = ctx.obj
    started = time.perf_counter()
    options: dict = {k: v for k, v in {"timezone": timezone, "currency": currency,
                                       "timestamp_format": timestamp_format}.items()
                     if v is not None}
    if options and source not in PRESETS:
        raise typer.BadParameter(f"--timezone, --currency and --timestamp-format are for "
                                 f"{' and '.join(PRESETS)}; "
                                 + ("shop reads them from shop.yaml" if source == "shop" else
                                    f"{source} has its own"), param_hint="--timezone/--currency/--timestamp-format")
    with console.status(f"importing {source} ...") as status:
        if source in OWN_SHOP_SOURCES:
            options["progress"] = lambda step: status.update(f"importing {source}: {step} ...")
        target, report = import_source(settings, source, path, into, **options)
    console.print(f"[green]imported {source}[/] into {target} in {time.perf_counter() - started:.1f}s")
    if report.counts:
        print_counts(report)
    else:
        table = Table("table", "rows written")
        for name, count in report.rows.items():
            table.add_row(name, f"{count:,}")
        console.print(table)
    if report.counts.get("documents", {}).get("inserted") or \
            report.counts.get("documents", {}).get("updated"):
        reindex_knowledge(settings, target)
    if report.raw:
        console.print("  raw file counts: " + ", ".join(f"{k} {v:,}" for k, v in report.raw.items()))
    for reason, count in report.dropped.items():
        console.print(f"  skipped/changed {count:,} raw rows: {reason}")
    for note in report.notes:
        console.print(f"  note: {note}")


def print_counts(report: ImportReport) -> None:
    """The own-shop import summary: per table, rows read, inserted, updated, unchanged and
    rejected, then the first rejects."""
    table = Table("table", "read", "inserted", "updated", "unchanged", "rejected")
    for column in table.columns[1:]:
        column.justify = "right"
    for name, c in report.counts.items():
        table.add_row(name, *(f"{c[k]:,}" for k in ("read", "inserted", "updated", "unchanged",
                                                     "rejected")),
                      style="red" if c["rejected"] else None)
    console.print(table)
    for r in report.rejects[:5]:
        console.print(f"  rejected {Path(r['file']).name} line {r['line']}: "
                      f"{r['table']}.{r['column'] or 'row'} {r['reason']}"
                      + (f" ({r['value']!r})" if r["value"] is not None else ""))
    rejected = sum(c["rejected"] for c in report.counts.values())
    if rejected:
        console.print(f"  all {rejected:,} rejected rows: table import_rejects "
                      "(file, line, tbl, col, reason, value)")


def reindex_knowledge(settings: Settings, target: Path) -> None:
    """Rebuild the knowledge index of the shop whose warehouse is ``target``: a new version of
    the registry's ``knowledge/<shop>``, gated (the one import from a higher layer:
    docs/architecture.md)."""
    from finetune.knowledge_index import build_knowledge_index

    shop = settings.model_copy(update={"shop": target.stem, "warehouse_path": target})
    with console.status("re-indexing the policy pages ..."):
        built = build_knowledge_index(shop)
    console.print(f"re-indexed {built.passages} passages: {built.version} "
                  f"{'serving' if built.promoted else 'stays a candidate'} ({built.note})")


@app.command("stats")
def stats_command(
    ctx: typer.Context,
    shop: str | None = typer.Option(None, help="Shop whose warehouse to show (default: settings.shop)."),
) -> None:
    """Row counts and date ranges of every table in the warehouse."""
    settings: Settings = ctx.obj
    path = settings.warehouse_for(shop) if shop else settings.warehouse
    con = warehouse.connect(path)
    imports = con.execute("SELECT source, max(imported_at) FROM imports GROUP BY 1 ORDER BY 2"
                          ).fetchall()
    caption = "imported: " + ", ".join(f"{s} ({t:%Y-%m-%d %H:%M})" for s, t in imports)
    table = Table("table", "rows", "first", "last", title=str(path),
                  caption=caption if imports else "nothing imported yet")
    table.columns[1].justify = "right"
    for row in warehouse.table_stats(con):
        first, last = (f"{t:%Y-%m-%d %H:%M:%S}" if t else "" for t in (row["first"], row["last"]))
        table.add_row(row["table"], f"{row['rows']:,}", first, last,
                      style=None if row["rows"] else "dim")
    console.print(table)
    con.close()


from knowledge.product_index import build_index_command

index_app.command("build")(build_index_command)

from finetune.knowledge_index import index_knowledge_command

index_app.command("knowledge")(index_knowledge_command)
