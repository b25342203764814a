"""Popularity: the same list for everyone, recent events counting more."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from finetune.recommend.base import restore, save_parts
from finetune.recommend.data import DAY, History, TrainData


class Popularity:
    name = "popularity"

    def __init__(self, half_life_days: float = 30.0):
        self.half_life_days = half_life_days
        self.counts = np.zeros(0, dtype=np.float32)

    def fit(self, data: TrainData) -> Popularity:
        counts = np.zeros(data.n_items, dtype=np.float64)
        for hist in data.histories.values():
            decay = np.exp2(-(data.end - hist.ts) / (self.half_life_days * DAY))
            np.add.at(counts, hist.items, decay)
        self.counts = counts.astype(np.float32)
        return self

    def score(self, histories: list[History]) -> np.ndarray:
        return np.tile(self.counts, (len(histories), 1))

    def save(self, folder: Path) -> None:
        save_parts(folder, {"half_life_days": self.half_life_days}, counts=self.counts)

    @classmethod
    def load(cls, folder: Path) -> Popularity:
        return restore(cls, folder, "counts")
