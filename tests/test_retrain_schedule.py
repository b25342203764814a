"""The retrain schedule: cron expressions fire when they should, a fake clock drives the
scheduler, a retrain runs in the background, and a fire while one runs is skipped and logged."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from finetune.retrain import retrain_lock
from finetune.retrain_schedule import RetrainScheduler
from knowledge.cron import parse
from knowledge.settings import Settings


@pytest.mark.parametrize(("expression", "after", "fires"), [
    ("15 3 * * *", datetime(2026, 12, 7, 3, 15), datetime(2026, 12, 8, 3, 15)),
    ("15 3 * * *", datetime(2026, 12, 7, 3, 14, 59), datetime(2026, 12, 7, 3, 15)),
    ("*/20 * * * *", datetime(2026, 12, 7, 10, 41), datetime(2026, 12, 7, 11, 0)),
    ("0 9-17/4 * * 1-5", datetime(2026, 12, 11, 17, 30), datetime(2026, 12, 14, 9, 0)),  # Fri
    ("0 0 * * 7", datetime(2026, 12, 7), datetime(2026, 12, 13)),  # 7 = Sunday
    ("0 0 1,15 * 1", datetime(2026, 12, 2), datetime(2026, 12, 7)),  # a Monday or the 1st/15th
    ("0 0 29 2 *", datetime(2026, 3, 1), datetime(2028, 2, 29)),
    ("@monthly", datetime(2026, 12, 7), datetime(2027, 1, 1)),
])
def test_cron_fires_at_the_first_matching_minute_after(expression, after, fires):
    assert parse(expression).next_after(after) == fires


@pytest.mark.parametrize("bad", ["* * * *", "60 * * * *", "0 0 31 2 *", "*/0 * * * *", "a * * * *"])
def test_a_bad_schedule_is_refused_by_the_settings(bad):
    with pytest.raises(ValueError, match="retrain_schedule"):
        Settings(retrain_schedule=bad)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_scheduler_fires_on_the_fake_clock_in_the_background(settings):
    clock, started, release, log = FakeClock(datetime(2026, 12, 7, 3, 0)), threading.Event(), \
        threading.Event(), []

    def slow_retrain(_: Settings) -> list[str]:
        started.set()
        release.wait(10)
        return ["purchase_30d: promoted"]

    scheduler = RetrainScheduler(settings.model_copy(update={"retrain_schedule": "15 3 * * *"}),
                                 log.append, clock, slow_retrain)
    assert scheduler.tick() is None  # 03:00: not yet
    clock.now = datetime(2026, 12, 7, 3, 15)
    worker = scheduler.tick()
    assert worker is not None and started.wait(5)
    assert worker.is_alive()  # tick returned while the retrain still runs
    assert scheduler.next_fire == datetime(2026, 12, 8, 3, 15) and scheduler.tick() is None
    release.set()
    worker.join(5)
    assert log == ["scheduled retrain: purchase_30d: promoted"]


def test_a_fire_while_a_retrain_runs_is_skipped_and_logged_and_a_failure_too(settings):
    clock, log = FakeClock(datetime(2026, 12, 7, 3, 0)), []
    scheduler = RetrainScheduler(settings.model_copy(update={"retrain_schedule": "*/5 * * * *"}),
                                 log.append, clock)  # the real `shopmind retrain`
    clock.now = datetime(2026, 12, 8, 3, 5)  # missed fires are not replayed: one run
    with retrain_lock(settings):  # a retrain is running
        scheduler.tick().join(5)
    assert len(log) == 1 and log[0].startswith(
        "scheduled retrain skipped: another retrain is running")
    assert scheduler.next_fire == datetime(2026, 12, 8, 3, 10)
    clock.now = datetime(2026, 12, 8, 3, 10)
    scheduler.tick().join(5)  # this shop has no warehouse: the run fails, the server goes on
    assert log[1].startswith("scheduled retrain failed: WarehouseMissingError")
