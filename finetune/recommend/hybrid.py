"""Hybrid: a weighted sum of the components' per-user min-max scaled scores. The weights are
tuned by coordinate ascent on NDCG@10 of a validation window that ends before the test
cutoff (never on the test window)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from finetune.recommend.base import Scorer, minmax_rows
from finetune.recommend.data import History
from finetune.recommend.evaluate import EvalSet, mask_history, ranking_metrics, top_k

WEIGHT_GRID = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
POOL = 100  # candidates per component kept while tuning


class Hybrid:
    name = "hybrid"

    def __init__(self, components: list[Scorer], weights: dict[str, float] | None = None):
        self.components = {c.name: c for c in components}
        self.weights = weights or {name: 1.0 for name in self.components}

    def parts(self, histories: list[History]) -> dict[str, np.ndarray]:
        """Each component's scaled scores, for blending and for explaining a result."""
        return {name: minmax_rows(model.score(histories).astype(np.float32))
                for name, model in self.components.items() if self.weights.get(name, 0) > 0}

    def score(self, histories: list[History]) -> np.ndarray:
        parts = self.parts(histories)
        return sum(self.weights[name] * part for name, part in parts.items())

    def tune(self, data: EvalSet, protocol: str, rounds: int = 3) -> dict[str, float]:
        """Set the weights that maximise mean NDCG@10 on `data` and return them."""
        names = list(self.components)
        pools, feats = [], []
        for start in range(0, len(data.histories), 256):
            hists = data.histories[start:start + 256]
            scaled = [minmax_rows(self.components[n].score(hists).astype(np.float32)) for n in names]
            if protocol == "new":
                scaled = [mask_history(s, hists) for s in scaled]
            pool = np.sort(np.concatenate([top_k(s, POOL) for s in scaled], axis=1), axis=1)
            stacked = np.stack([np.take_along_axis(s, pool, axis=1) for s in scaled], axis=-1)
            stacked = np.nan_to_num(stacked, neginf=-1e3)  # masked items never win
            stacked[:, 1:][pool[:, 1:] == pool[:, :-1]] = -1e4  # an item pooled twice counts once
            pools.append(pool)
            feats.append(stacked)
        pool, feat = np.concatenate(pools), np.concatenate(feats)

        def ndcg(weights: np.ndarray) -> float:
            ranked = np.take_along_axis(pool, top_k(feat @ weights, 20), axis=1)
            return float(ranking_metrics(ranked, data.truth)["ndcg@10"].mean())

        weights = np.ones(len(names))
        best = ndcg(weights)
        for _ in range(rounds):
            improved = False
            for i in range(len(names)):
                for value in WEIGHT_GRID:
                    trial = weights.copy()
                    trial[i] = value
                    if trial.any() and (result := ndcg(trial)) > best + 1e-6:
                        best, weights, improved = result, trial, True
            if not improved:
                break
        self.weights = dict(zip(names, map(float, weights)))
        return self.weights

    def save_weights(self, path: Path) -> None:
        path.write_text(json.dumps(self.weights, indent=2))
