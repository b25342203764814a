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
from knowledge.importers import SOURCES, default_source_dir, get_importer
from knowledge.settings import Settings

app = typer.Typer(help="Import data into the warehouse and inspect it.", no_args_is_help=True)
index_app = typer.Typer(help="Build the search indexes (products, knowledge base).",
                        no_args_is_help=True)
console = Console()


def import_source(settings: Settings, source: str, path: Path | None = None,
                  into: Path | None = None):
    """Import one source atomically; returns (warehouse path, report)."""
    importer = get_importer(source)
    source_dir = path or default_source_dir(source, settings)
    target = into or (settings.warehouse_path or settings.warehouse_for(source))
    with warehouse.atomic_update(target) as con:
        report = importer(con, source_dir, settings)
        con.execute(
            "INSERT INTO imports VALUES (?, ?, ?, ?)",
            [source, datetime.now(), json.dumps({"path": str(source_dir)}),
             report.model_dump_json()],
        )
    return target, report


@app.command("import")
def import_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., help=f"One of: {', '.join(SOURCES)}"),
    path: Path | None = typer.Option(None, help="Folder with the source's raw files "
                                     "(default: data_dir/<source folder>)."),
    into: Path | None = typer.Option(None, help="Warehouse file to write (default: "
                                     "warehouse_dir/<source>.duckdb). Several sources may share one."),
) -> None:
    """Import SOURCE into a warehouse. Atomic: a failed import leaves the old file untouched."""
    settings: Settings = ctx.obj
    started = time.perf_counter()
    with console.status(f"importing {source} ..."):
        target, report = import_source(settings, source, path, into)
    console.print(f"[green]imported {source}[/] into {target} in {time.perf_counter() - started:.1f}s")
    table = Table("table", "rows written")
    for name, count in report.rows.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    if report.raw:
        console.print("  raw file counts: " + ", ".join(f"{k} {v:,}" for k, v in report.raw.items()))
    for reason, count in report.dropped.items():
        console.print(f"  skipped/changed {count:,} raw rows: {reason}")
    for note in report.notes:
        console.print(f"  note: {note}")


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

from knowledge.docs import index_knowledge_command

index_app.command("knowledge")(index_knowledge_command)
