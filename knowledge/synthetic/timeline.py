"""The shop's calendar: which days the history covers and how busy each day is.

Traffic intensity of a day = weekly pattern x yearly pattern. The yearly pattern has a
summer dip, a late-November (Black Friday) jump and a December peak; categories add their
own monthly profile on top (garden in spring, toys in December, see words.CATEGORIES).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

# Monday first. Sunday and Monday evenings are the busiest, Friday and Saturday the quietest.
WEEKLY = np.array([1.12, 1.02, 1.0, 0.98, 0.86, 0.88, 1.14])


def yearly_pattern(day_of_year: np.ndarray) -> np.ndarray:
    doy = np.asarray(day_of_year, dtype=float)
    december = 0.75 * np.exp(-(((doy - 350) / 11) ** 2))
    black_friday = 0.45 * np.exp(-(((doy - 332) / 4) ** 2))
    summer_dip = -0.15 * np.exp(-(((doy - 200) / 30) ** 2))
    january_sales = 0.2 * np.exp(-(((doy - 6) / 6) ** 2))
    return 1.0 + december + black_friday + summer_dip + january_sales


@dataclass(frozen=True)
class Timeline:
    start: datetime  # midnight of day 0
    days: int

    @classmethod
    def ending(cls, last: date, days: int) -> Timeline:
        first = last - timedelta(days=days - 1)
        return cls(datetime(first.year, first.month, first.day), days)

    @property
    def end(self) -> datetime:
        """Midnight after the last day: nothing happens at or after it."""
        return self.start + timedelta(days=self.days)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, periods=self.days, freq="D")

    @property
    def months(self) -> np.ndarray:
        """Month of each day, 0 = January."""
        return self.dates.month.to_numpy() - 1

    @property
    def intensity(self) -> np.ndarray:
        dates = self.dates
        return WEEKLY[dates.day_of_week.to_numpy()] * yearly_pattern(dates.day_of_year.to_numpy())

    def at(self, day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Timestamps (datetime64[us]) from a day index and seconds after midnight."""
        base = np.datetime64(self.start, "us")
        return base + day.astype("timedelta64[D]") + (seconds * 1e6).astype("timedelta64[us]")
