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


def read_params(folder: Path) -> dict:
    return json.loads((folder / "params.json").read_text())


def restore(cls: type, folder: Path, *arrays: str):
    """cls(**params.json) with each saved array set as the attribute of the same name."""
    model = cls(**read_params(folder))
    for name in arrays:
        setattr(model, name, np.load(folder / f"{name}.npy"))
    return model
