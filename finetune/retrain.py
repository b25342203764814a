"""`shopmind retrain`: retrain the behaviour tasks whose data changed since their serving
version was trained, gate each validation winner and promote it if it passes.

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

from knowledge.settings import Settings

console = Console()


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


def retrain(settings: Settings, force: bool = False) -> list[str]:
    """One line per default behaviour task: skipped (data unchanged), promoted or refused."""
    from finetune.behavior.train import DEFAULT_TASKS, train_default

    with retrain_lock(settings):
        stale, current = (DEFAULT_TASKS, []) if force else stale_tasks(settings)
        lines = [f"{name}: data unchanged since the last training, skipped" for name in current]
        return lines + (train_default(settings, stale) if stale else [])


def retrain_command(ctx: typer.Context,
                    force: bool = typer.Option(False, help="Retrain every task even if its "
                                               "data did not change.")) -> None:
    """Retrain the behaviour models whose data changed; gate and promote (docs/models.md)."""
    try:
        for line in retrain(ctx.obj, force):
            console.print(line)
    except RetrainBusyError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from err
