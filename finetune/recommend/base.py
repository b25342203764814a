"""What every recommendation model provides, and the helpers they share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from finetune.recommend.data import History, TrainData


class Scorer(Protocol):
    name: str

    def fit(self, data: TrainData) -> Scorer: ...

    def score(self, histories: list[History]) -> np.ndarray:
        """(len(histories), n_items) float32; higher = more likely next."""

    def save(self, folder: Path) -> None: ...


def minmax_rows(scores: np.ndarray) -> np.ndarray:
    """Scale each row to [0, 1] so that models with different score ranges can be blended."""
    low = scores.min(axis=1, keepdims=True)
    span = scores.max(axis=1, keepdims=True) - low
    return np.divide(scores - low, span, out=np.zeros_like(scores), where=span > 0)


def write_params(folder: Path, params: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.json").write_text(json.dumps(params, indent=2))


def read_params(folder: Path) -> dict:
    return json.loads((folder / "params.json").read_text())
