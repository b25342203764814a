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
    item-kNN, ALS, text, SASRec, hybrid) into artifacts/recommend/<shop>/."""
    from rich.console import Console
    from rich.table import Table

    from finetune.recommend.train import train_recommender

    settings = ctx.obj
    started = time.perf_counter()
    meta = train_recommender(settings, valid_days, sasrec_seconds)
    console = Console()
    console.print(f"[green]trained[/] {', '.join(meta.components)} on {meta.events:,} events, "
                  f"{meta.items:,} items, {meta.users:,} users in "
                  f"{time.perf_counter() - started:.0f}s")
    table = Table("protocol", "hybrid weights", "NDCG@10 on the tuning window", "HR@10")
    for protocol, weights in meta.weights.items():
        metrics = meta.validation.get(protocol, {})
        table.add_row(protocol, ", ".join(f"{k} {v:g}" for k, v in weights.items() if v),
                      f"{metrics.get('ndcg@10', float('nan')):.4f}",
                      f"{metrics.get('hr@10', float('nan')):.4f}")
    console.print(table)
