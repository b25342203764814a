"""`shopmind up`: build everything the default shop needs, then start the assistant.

The pipeline is a list of stages. Each stage says whether its output is already there (so a
second run skips it: the command is idempotent and resumable) and how to build it. Packages
add their stage to STAGES; nothing else needs to change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import typer
from rich.console import Console

from knowledge.settings import Settings

console = Console()


@dataclass(frozen=True)
class Stage:
    name: str
    is_done: Callable[[Settings], bool]
    build: Callable[[Settings], str]  # returns a one-line summary of what it built


def _warehouse_done(settings: Settings) -> bool:
    return settings.warehouse.is_file()


def _build_warehouse(settings: Settings) -> str:
    from knowledge.cli import import_source

    path, report = import_source(settings, settings.shop, into=settings.warehouse)
    return f"{path}: " + ", ".join(f"{t} {n:,}" for t, n in report.rows.items())


def _knowledge_done(settings: Settings) -> bool:
    from knowledge.docs import index_is_current

    return index_is_current(settings)


def _build_knowledge(settings: Settings) -> str:
    from knowledge.docs import build_knowledge_index, index_dir

    passages = build_knowledge_index(settings)
    return f"{len(passages)} policy/FAQ passages in {index_dir(settings)}"


def _recommend_done(settings: Settings) -> bool:
    from finetune.recommend.train import is_current

    return is_current(settings)


def _build_recommend(settings: Settings) -> str:
    from finetune.recommend.train import train_recommender

    meta = train_recommender(settings, sasrec_seconds=30)
    return f"{', '.join(meta.components)} on {meta.events:,} events, {meta.items:,} items"


def _uplift_done(settings: Settings) -> bool:
    from finetune.uplift.train import is_current

    return is_current(settings)


def _build_uplift(settings: Settings) -> str:
    from finetune.uplift.train import train_shop

    metas = train_shop(settings, settings.shop, quick=True)
    return "; ".join(f"{m.model} on {m.campaign.campaign_id} ({m.rows['train']:,} users)"
                     for m in metas)


def _behavior_done(settings: Settings) -> bool:
    from finetune.behavior.train import is_current

    return is_current(settings)


def _build_behavior(settings: Settings) -> str:
    from finetune.behavior.train import train_default

    return "; ".join(train_default(settings))


def _dialog_done(settings: Settings) -> bool:
    from finetune.dialog.train import is_built

    return is_built(settings)


def _build_dialog(settings: Settings) -> str:
    from finetune.dialog.train import build_default

    return build_default(settings)


STAGES: list[Stage] = [
    Stage("warehouse", _warehouse_done, _build_warehouse),
    Stage("knowledge index", _knowledge_done, _build_knowledge),
    Stage("recommendations", _recommend_done, _build_recommend),
    Stage("uplift", _uplift_done, _build_uplift),
    Stage("behaviour models", _behavior_done, _build_behavior),
    Stage("dialog model", _dialog_done, _build_dialog),
]


def run_stages(settings: Settings, force: bool = False) -> list[tuple[str, str]]:
    built = []
    for number, stage in enumerate(STAGES, start=1):
        prefix = f"[{number}/{len(STAGES)}] {stage.name}"
        if not force and stage.is_done(settings):
            console.print(f"{prefix}: already built, skipping")
            built.append((stage.name, "already built"))
            continue
        console.print(f"{prefix}: building ...")
        started = time.perf_counter()
        summary = stage.build(settings)
        console.print(f"{prefix}: done in {time.perf_counter() - started:.1f}s: {summary}")
        built.append((stage.name, summary))
    return built


def up_command(
    ctx: typer.Context,
    force: bool = typer.Option(False, help="Rebuild every stage even if its output exists."),
    build_only: bool = typer.Option(False, help="Build, but do not start the assistant."),
) -> None:
    """Build every stage the active shop needs (skipping finished ones), then start the assistant."""
    settings: Settings = ctx.obj
    built = run_stages(settings, force)
    console.print("[bold]built:[/] " + "; ".join(f"{name} ({summary})" for name, summary in built))
    if build_only:
        return
    from assistant.serve import serve

    serve(settings)
