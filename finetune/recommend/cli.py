"""`shopmind train recommend`: kept free of heavy imports so `shopmind --help` stays fast."""

from __future__ import annotations

import time

import typer


def train_recommend_command(
    ctx: typer.Context,
    valid_days: float | None = typer.Option(
        None, help="Days at the end of the history used to tune the hybrid's weights "
        "(default: 1/12 of the history, at least 1)."),
    sasrec_seconds: float = typer.Option(180.0, help="Training-time cap of the sequential "
                                         "model, per fit (it is fitted twice)."),
) -> None:
    """Train the recommendation models of the active shop (product index, popularity, repeat,
    item-kNN, ALS, text, SASRec, hybrid) into a new version under artifacts/recommend/<shop>/,
    gate it against the serving version (held-out NDCG@10) and promote it if it passes."""
    from rich.console import Console
    from rich.table import Table

    from finetune import registry
    from finetune.recommend.train import train_recommender

    settings = ctx.obj
    started = time.perf_counter()
    meta = train_recommender(settings, valid_days, sasrec_seconds)
    console = Console()
    console.print(f"[green]trained[/] {', '.join(meta.components)} on {meta.events:,} events, "
                  f"{meta.items:,} items, {meta.users:,} users in "
                  f"{time.perf_counter() - started:.0f}s")
    table = Table("protocol", "hybrid weights", "NDCG@10 on the tuning window",
                  "NDCG@10 held out", "HR@10 held out")
    for protocol, weights in meta.weights.items():
        tuning, test = meta.validation.get(protocol, {}), meta.heldout.get(protocol, {})
        table.add_row(protocol, ", ".join(f"{k} {v:g}" for k, v in weights.items() if v),
                      f"{tuning.get('ndcg@10', float('nan')):.4f}",
                      f"{test.get('ndcg@10', float('nan')):.4f}",
                      f"{test.get('hr@10', float('nan')):.4f}")
    console.print(table)
    entry = registry.load(settings).slot(registry.recommend_slot(settings.shop)).get(meta.version)
    console.print(f"{meta.version}: {entry.status}; {entry.note}")
