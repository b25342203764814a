"""Cron expressions for `retrain_schedule`: five fields, minute hour day-of-month month
day-of-week, each ``*``, a number, a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a list of
those (``1,15``); day-of-week 0-7 with 0 and 7 Sunday; when both day fields are restricted, a
day matching either one fires (as in cron). Also ``@hourly``, ``@daily``, ``@weekly``,
``@monthly``, ``@yearly``. Times are the server's local time, as for cron.

Why not APScheduler or croniter: only "when is the next fire after t" is needed, for one job,
in a thread the server already owns; this is it in sixty lines with no new dependency, and a
fake clock tests it directly (APScheduler's own loop sleeps on the wall clock; croniter is one
more package whose maintenance changed hands in 2025). Names (``mon``, ``jan``) are not
supported: use numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0",
           "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *"}
BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
SEARCH_DAYS = 5 * 366  # 29 February comes within four years


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            start, stop = low, high
        else:
            first, _, last = span.partition("-")
            start, stop = int(first), int(last or (high if step else first))
        if not (low <= start <= stop <= high) or (step and int(step) < 1):
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, stop + 1, int(step or 1)))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day-of-month is *
    any_weekday: bool  # day-of-week is *

    def _day_matches(self, day: datetime) -> bool:
        by_date, by_weekday = day.day in self.days, (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return by_date and by_weekday
        return by_date or by_weekday

    def next_after(self, moment: datetime) -> datetime:
        """The first minute strictly after `moment` that the expression matches."""
        t = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        last = t + timedelta(days=SEARCH_DAYS)
        while t < last:
            if t.month not in self.months or not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise ValueError("the schedule never fires (a day that does not exist?)")


def parse(expression: str) -> Cron:
    """A Cron, or ValueError saying what is wrong with the expression."""
    text = ALIASES.get(expression.strip(), expression.strip())
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"cron needs 5 fields (minute hour day month weekday), got {text!r}")
    try:
        minutes, hours, days, months, weekdays = (
            _field(f, low, high) for f, (low, high) in zip(fields, BOUNDS))
    except ValueError as err:
        raise ValueError(f"invalid cron expression {expression!r}: {err}") from err
    cron = Cron(minutes, hours, days, months, frozenset(d % 7 for d in weekdays),
                any_day=fields[2] == "*", any_weekday=fields[4] == "*")
    cron.next_after(datetime(2001, 1, 1))  # refuses one that never fires
    return cron
