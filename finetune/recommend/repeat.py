"""The user's own items, recency-weighted: in many shops people mostly buy again what they
bought before. Items the user never touched score 0 (ties are broken by the hybrid/popularity)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from finetune.recommend.base import read_params, save_parts
from finetune.recommend.data import History, TrainData


class Repeat:
    name = "repeat"

    def __init__(self, half_life_days: float = 30.0):
        self.half_life_days = half_life_days
        self.n_items = 0

    def fit(self, data: TrainData) -> Repeat:
        self.n_items = data.n_items
        return self

    def score(self, histories: list[History]) -> np.ndarray:
        return np.stack([h.recency_vector(self.n_items, self.half_life_days) for h in histories]) \
            if histories else np.zeros((0, self.n_items), dtype=np.float32)

    def save(self, folder: Path) -> None:
        save_parts(folder, {"half_life_days": self.half_life_days, "n_items": self.n_items})

    @classmethod
    def load(cls, folder: Path) -> Repeat:
        params = read_params(folder)
        model = cls(params["half_life_days"])
        model.n_items = params["n_items"]
        return model
