"""`shopmind up`: build everything the default shop needs, then start the assistant.

The pipeline is a list of stages. Each stage says whether its output is already there (so a
second run skips it: the command is idempotent and resumable) and how to build it. Packages
add their stage to STAGES; nothing else needs to change.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
    from finetune.knowledge_index import is_current

    return is_current(settings)


def _build_knowledge(settings: Settings) -> str:
    from finetune.knowledge_index import build_knowledge_index

    built = build_knowledge_index(settings)
    return (f"{built.passages} policy/FAQ passages, {built.version} "
            f"{'serving' if built.promoted else 'stays a candidate'}")


def _recommend_done(settings: Settings) -> bool:
    from finetune.recommend.artifacts import is_current

    return is_current(settings)


def _build_recommend(settings: Settings) -> str:
    from finetune.recommend.train import train_recommender
    from finetune.retrain import QUICK_SASREC_SECONDS

    meta = train_recommender(settings, sasrec_seconds=QUICK_SASREC_SECONDS)
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

    return bool(settings.backend_url) or is_built(settings)


def _build_dialog(settings: Settings) -> str:
    from finetune.dialog.train import build_default

    return build_default(settings)


class StageError(RuntimeError):
    """A stage cannot run here; the message says why and what to do."""


def check_endpoint(settings: Settings, timeout: float = 10.0) -> str:
    """With backend_url set no dialog model is trained: the endpoint must answer /models and
    serve settings.dialog_model (when it lists models)."""
    import httpx

    url = settings.backend_url.rstrip("/") + "/models"
    key = settings.backend_key
    try:
        response = httpx.get(url, timeout=timeout,
                             headers={"Authorization": f"Bearer {key}"} if key else {})
        response.raise_for_status()
    except httpx.HTTPError as err:
        raise StageError(f"backend_url {settings.backend_url} does not answer GET /models "
                         f"({type(err).__name__}: {err}); start the server or fix the URL") from err
    served = [m.get("id") for m in response.json().get("data", [])]
    if served and settings.dialog_model not in served:
        raise StageError(f"backend_url serves {', '.join(served)}, not dialog_model "
                         f"{settings.dialog_model!r}; set dialog_model to one of them")
    return f"using {settings.backend_url} ({', '.join(served) or 'model list empty'})"


def check_memory(settings: Settings) -> str | None:
    """Refuse, before anything starts, to train a dialog preset this machine cannot hold."""
    from finetune.dialog.train import PRESETS

    if _dialog_done(settings):
        return None
    need = PRESETS[settings.dialog_preset].memory_gib
    have = available_memory_gib()
    if have is not None and have < need:
        raise StageError(
            f"training the dialog model ({settings.dialog_preset} preset) needs about {need:.0f} "
            f"GiB of free memory and this machine has {have:.1f} GiB available; close other "
            "programs, or set backend_url to a served model (docs/dialog.md)")
    return None


def available_memory_gib() -> float | None:
    """MemAvailable of /proc/meminfo (Linux), else None (not checked)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        return None
    return None


STAGES: list[Stage] = [
    Stage("warehouse", _warehouse_done, _build_warehouse),
    Stage("knowledge index", _knowledge_done, _build_knowledge),
    Stage("recommendations", _recommend_done, _build_recommend),
    Stage("uplift", _uplift_done, _build_uplift),
    Stage("behaviour models", _behavior_done, _build_behavior),
    Stage("dialog model", _dialog_done, _build_dialog),
]


def run_stages(settings: Settings, force: bool = False, stages: list[Stage] | None = None,
               ) -> list[tuple[str, str]]:
    stages = STAGES if stages is None else stages
    built = []
    for number, stage in enumerate(stages, start=1):
        prefix = f"[{number}/{len(stages)}] {stage.name}"
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


def train_dialog_in_background(settings: Settings) -> multiprocessing.Process:
    """The dialog stage in a child process, so the console, widget and API start at once; the
    chat says how far the training is (finetune/dialog/train.py writes its progress) until the
    model is there, then loads it. The child ends with the server; the next run resumes it."""
    process = multiprocessing.get_context("spawn").Process(
        target=_build_dialog, args=(settings,), name="shopmind-dialog-training", daemon=True)
    process.start()
    return process


def up_command(
    ctx: typer.Context,
    force: bool = typer.Option(False, help="Rebuild every stage even if its output exists."),
    build_only: bool = typer.Option(
        False, help="Build everything (the dialog model too, in the foreground), do not serve."),
) -> None:
    """Build every stage the active shop needs (skipping finished ones), then start the
    assistant. The dialog model, the one long stage, trains in the background while the
    assistant already serves: its chat says when it will answer."""
    settings: Settings = ctx.obj
    try:
        check_memory(settings)
        if settings.backend_url:
            console.print(f"dialog model: {check_endpoint(settings)}")
    except StageError as err:
        console.print(f"[bold red]shopmind up: {err}[/]")
        raise typer.Exit(1) from err
    background = not build_only and not settings.backend_url and (
        force or not _dialog_done(settings))
    stages = [s for s in STAGES if not (background and s.name == "dialog model")]
    built = run_stages(settings, force, stages)
    console.print("[bold]built:[/] " + "; ".join(f"{name} ({summary})" for name, summary in built))
    if build_only:
        return
    if background:
        train_dialog_in_background(settings)
        console.print("[bold]dialog model:[/] training in the background (progress below); the "
                      "chat says when it answers, the other console tabs work now")
    from assistant.serve import serve

    serve(settings)
