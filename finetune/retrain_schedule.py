"""`retrain_schedule`: `shopmind serve` runs `shopmind retrain` on a cron schedule
(``knowledge/cron.py``), each run in its own background thread, so a retrain never blocks a
chat. Two never run at once: each run takes the retrain lock (``finetune.retrain``), and a fire
that finds it held (an earlier scheduled run still going, or a `shopmind retrain` from the
command line) is skipped and logged. Fires missed while the server was busy or down are not
replayed: the next fire is always the first one after now.

The loop only asks `tick()` once in a while; `tick()` reads the injected clock, so tests drive
the schedule with a fake one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from finetune.retrain import RetrainBusyError, retrain
from knowledge.cron import parse
from knowledge.settings import Settings

POLL_SECONDS = 20.0  # how often the loop looks at the clock; a fire is at most this late


class RetrainScheduler:
    def __init__(self, settings: Settings, log: Callable[[str], None],
                 clock: Callable[[], datetime] = datetime.now,
                 run: Callable[[Settings], list[str]] = retrain) -> None:
        self.settings, self.log, self.clock, self.run = settings, log, clock, run
        self.cron = parse(settings.retrain_schedule)
        self.next_fire = self.cron.next_after(clock())

    def tick(self) -> threading.Thread | None:
        """When a fire is due: start a retrain in a background thread and return the thread
        (already running); otherwise None."""
        now = self.clock()
        if now < self.next_fire:
            return None
        self.next_fire = self.cron.next_after(now)
        worker = threading.Thread(target=self._retrain, name="scheduled-retrain", daemon=True)
        worker.start()
        return worker

    def _retrain(self) -> None:
        try:
            lines = self.run(self.settings)
        except RetrainBusyError as err:
            self.log(f"scheduled retrain skipped: {err}")
            return
        except Exception as err:  # noqa: BLE001 - the server keeps running; the next fire retries
            self.log(f"scheduled retrain failed: {type(err).__name__}: {err}")
            return
        self.log("scheduled retrain: " + "; ".join(lines))

    def start(self) -> threading.Event:
        """Run the schedule in a daemon thread until the returned event is set."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(POLL_SECONDS):
                self.tick()

        threading.Thread(target=loop, name="retrain-schedule", daemon=True).start()
        self.log(f"retrain scheduled ({self.settings.retrain_schedule!r}); next at "
                 f"{self.next_fire:%Y-%m-%d %H:%M}")
        return stop
