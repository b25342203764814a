"""`shopmind retrain`: retrain the models whose data changed since their newest version was
trained (the knowledge index, behaviour tasks, the recommender, the uplift model of each
randomised campaign), gate each new version against the serving one and promote it if it passes.

Two never run at once: an exclusive, non-blocking lock on ``artifacts_dir/retrain.lock`` (a
second run fails at once with a clear message). A retrain never touches what is serving until
the registry swap at its very end (`finetune.registry`), so one that is killed half-way leaves
the serving versions as they were; chats keep reading the old registry meanwhile. Schedule it
with cron (docs/models.md gives the line).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from finetune import registry
from knowledge.settings import Settings

console = Console()
STAGES = ("knowledge", "behavior", "recommend", "uplift")
STAGE_NAMES = ", ".join(STAGES)
STAGE_HELP = f"Only this stage (repeatable): {STAGE_NAMES}; default all."
QUICK_SASREC_SECONDS = 30.0  # the sequential recommender's training cap, as `shopmind up`


class RetrainBusyError(RuntimeError):
    """Another retrain holds the lock."""


@contextmanager
def retrain_lock(settings: Settings) -> Iterator[None]:
    settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
    path = settings.artifacts_dir / "retrain.lock"
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise RetrainBusyError(f"another retrain is running (it holds {path}); wait for "
                                   "it to finish") from err
        yield


def stale_tasks(settings: Settings) -> tuple[list, list[str]]:
    """(task specs whose newest trained version saw older data, or that have none; names of
    the others). A candidate the gate refused counts: the same data is not retrained again."""
    from finetune.behavior.artifacts import latest_servable
    from finetune.behavior.train import DEFAULT_TASKS, _data_end

    end = _data_end(settings)
    stale, current = [], []
    for spec in DEFAULT_TASKS:
        found = latest_servable(settings, settings.shop, spec.name)
        (current if found is not None and found[1].data_end == end else stale).append(spec)
    return stale, [spec.name for spec in current]


def verdict_line(settings: Settings, slot: str, version: str) -> str:
    """What became of a new version: promoted, or a candidate still, and the gate's note."""
    entry = registry.load(settings).slot(slot).get(version)
    outcome = "promoted" if entry.status == "serving" else "stays a candidate"
    return f"{slot}: {version} {outcome} ({entry.note})"


def retrain_knowledge(settings: Settings, force: bool) -> list[str]:
    """Rebuild the knowledge index when the documents or the text_encoder changed."""
    from finetune.knowledge_index import build_knowledge_index, is_current

    if not force and is_current(settings):
        return ["knowledge: documents and encoder unchanged since the last build, skipped"]
    built = build_knowledge_index(settings)
    return [verdict_line(settings, registry.knowledge_slot(settings.shop), built.version)]


def retrain_behavior(settings: Settings, force: bool) -> list[str]:
    """One line per default behaviour task: skipped (data unchanged), promoted or refused."""
    from finetune.behavior.train import DEFAULT_TASKS, train_default

    stale, current = (DEFAULT_TASKS, []) if force else stale_tasks(settings)
    lines = [f"{name}: data unchanged since the last training, skipped" for name in current]
    return lines + (train_default(settings, stale) if stale else [])


def retrain_recommend(settings: Settings, force: bool) -> list[str]:
    from finetune.recommend.artifacts import is_current
    from finetune.recommend.train import train_recommender

    if not force and is_current(settings):
        return ["recommend: data unchanged since the last training, skipped"]
    meta = train_recommender(settings, sasrec_seconds=QUICK_SASREC_SECONDS)
    return [verdict_line(settings, registry.recommend_slot(settings.shop), meta.version)]


def retrain_uplift(settings: Settings, force: bool) -> list[str]:
    from finetune.uplift.data import ExperimentError
    from finetune.uplift.train import is_current, train_shop

    if not force and is_current(settings):
        return ["uplift: data unchanged since the last training, skipped"]
    try:
        metas = train_shop(settings, settings.shop, quick=True)
    except ExperimentError as err:
        return [f"uplift: {err}; skipped"]
    return [verdict_line(settings, registry.uplift_slot(m.shop, m.campaign.campaign_id),
                         m.version) for m in metas]


def retrain(settings: Settings, force: bool = False,
            stages: tuple[str, ...] = STAGES) -> list[str]:
    """Retrain the stale models of each stage; one line per model: skipped, promoted or
    refused by the gate (and why)."""
    run = {"knowledge": retrain_knowledge, "behavior": retrain_behavior,
           "recommend": retrain_recommend, "uplift": retrain_uplift}
    unknown = sorted(set(stages) - set(run))
    if unknown:
        raise ValueError(f"unknown retrain stage(s) {', '.join(unknown)}; choose from "
                         f"{STAGE_NAMES}")
    with retrain_lock(settings):
        return [line for stage in STAGES if stage in stages for line in run[stage](settings, force)]


def retrain_command(ctx: typer.Context,
                    force: bool = typer.Option(False, help="Retrain every model even if its "
                                               "data did not change."),
                    stage: list[str] | None = typer.Option(None, help=STAGE_HELP),  # noqa: B008
                    ) -> None:
    """Rebuild the knowledge index and retrain the behaviour models, the recommender and the
    uplift models whose data changed; gate each new version against the serving one and
    promote it if it passes (docs/models.md)."""
    try:
        for line in retrain(ctx.obj, force, tuple(stage or STAGES)):
            console.print(line)
    except (RetrainBusyError, ValueError) as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from err
