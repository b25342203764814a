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


def save_parts(folder: Path, params: dict, **arrays: np.ndarray) -> None:
    """params.json (constructor arguments) + one .npy per array."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.json").write_text(json.dumps(params, indent=2))
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)


def load_parts(folder: Path, *names: str) -> tuple[dict, list[np.ndarray]]:
    params = json.loads((folder / "params.json").read_text())
    return params, [np.load(folder / f"{name}.npy") for name in names]
