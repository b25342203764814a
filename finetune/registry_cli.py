"""`shopmind models list | show | promote | rollback`: the registry from the command line."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from finetune import registry
from knowledge.settings import Settings

app = typer.Typer(help="Model versions (behaviour tasks, recommenders, uplift models, the "
                  "dialog model, the knowledge index): which serve, which are candidates, "
                  "rollback.",
                  no_args_is_help=True)
console = Console()


def _fail(err: Exception) -> None:
    console.print(f"[red]error:[/] {err}")
    raise typer.Exit(2) from err


HEADLINE = {"roc_auc": "AUC", "ece": "ECE", "ndcg@10": "NDCG@10", "qini_auc": "Qini",
            "recall@3": "recall@3"}


def held_out_summary(version: registry.Version) -> str:
    """The headline metrics of each split, flat (behaviour: AUC, ECE; recommenders: NDCG@10
    per protocol; uplift: Qini per arm; knowledge index: recall@3 per language)."""
    out = []
    for split, metrics in version.metrics.items():
        for group, values in metrics.items():
            if isinstance(values, dict):
                out += [f"{split} {label} {group} {values[key]:.3f}"
                        for key, label in HEADLINE.items() if values.get(key) is not None]
            elif group in HEADLINE and values is not None:
                out.append(f"{split} {HEADLINE[group]} {values:.3f}")
    return ", ".join(out)


@app.command("list")
def list_command(ctx: typer.Context,
                 slot: str = typer.Option("", help="Only slots starting with this, e.g. "
                                          "behavior/synthetic, recommend/, uplift/hillstrom or knowledge/."
                                          )) -> None:
    """Every registered version: status, data window and held-out metrics."""
    settings: Settings = ctx.obj
    table = Table("slot", "version", "status", "data end", "held-out metrics", "note")
    for name, entries in sorted(registry.load(settings).slots.items()):
        if not name.startswith(slot):
            continue
        for v in sorted(entries.versions, key=lambda v: v.created_at):
            table.add_row(name, v.version, v.status, str(v.data_window.get("data_end", "")),
                          held_out_summary(v), v.note[:80])
    console.print(table)


@app.command("show")
def show_command(ctx: typer.Context, version: str = typer.Argument(..., help="Version name.")
                 ) -> None:
    """One version as JSON, with its slot and folder."""
    settings: Settings = ctx.obj
    try:
        slot, found = registry.load(settings).find(version)
    except registry.RegistryError as err:
        _fail(err)
    print(json.dumps({"slot": slot, "folder": str(settings.artifacts_dir / found.path),
                      **found.model_dump()}, indent=2))


@app.command("promote")
def promote_command(ctx: typer.Context, version: str = typer.Argument(..., help="A candidate.")
                    ) -> None:
    """Serve a candidate now (the operator's decision: no gate); the serving one is retired."""
    settings: Settings = ctx.obj
    try:
        slot, _ = registry.load(settings).find(version)
        chosen = registry.promote(settings, slot, version, note="promoted by hand")
    except registry.RegistryError as err:
        _fail(err)
    console.print(f"{slot}: {chosen.version} is serving")


@app.command("rollback")
def rollback_command(ctx: typer.Context,
                     slot: str = typer.Argument(..., help="e.g. behavior/synthetic/purchase_30d, "
                                                "recommend/synthetic, uplift/hillstrom/<campaign>, "
                                                "knowledge/synthetic")
                     ) -> None:
    """Retire the serving version and serve the previous one again (atomic)."""
    settings: Settings = ctx.obj
    try:
        previous = registry.rollback(settings, slot)
    except registry.RegistryError as err:
        _fail(err)
    console.print(f"{slot}: {previous.version} is serving again")
