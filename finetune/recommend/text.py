"""Text-only: items whose title/description reads like what the user bought (all-MiniLM-L6-v2).
The user profile is the recency-weighted mean of their items' embeddings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from finetune.recommend.base import restore, save_parts
from finetune.recommend.data import History, TrainData

Encoder = Callable[[list[str]], np.ndarray]


def _default_encoder(texts: list[str]) -> np.ndarray:
    from knowledge.text_embeddings import embed

    return embed(texts, progress=len(texts) > 2000)


class TextSimilarity:
    name = "text"

    def __init__(self, half_life_days: float = 30.0, encoder: Encoder | None = None):
        self.half_life_days = half_life_days
        self.encoder = encoder or _default_encoder
        self.embeddings = np.zeros((0, 0), dtype=np.float32)

    def fit(self, data: TrainData) -> TextSimilarity:
        if len(data.texts) != data.n_items or not any(data.texts):
            raise ValueError("the text model needs a title per item; this shop has none")
        self.embeddings = np.asarray(self.encoder(data.texts), dtype=np.float32)
        return self

    def score(self, histories: list[History]) -> np.ndarray:
        n_items = len(self.embeddings)
        weights = np.stack([h.recency_vector(n_items, self.half_life_days) for h in histories])
        profiles = weights @ self.embeddings
        profiles /= np.maximum(np.linalg.norm(profiles, axis=1, keepdims=True), 1e-12)
        return profiles @ self.embeddings.T

    def save(self, folder: Path) -> None:
        save_parts(folder, {"half_life_days": self.half_life_days}, embeddings=self.embeddings)

    @classmethod
    def load(cls, folder: Path) -> TextSimilarity:
        return restore(cls, folder, "embeddings")
