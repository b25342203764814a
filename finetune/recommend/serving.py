"""A trained recommender loaded for serving: the saved components, their hybrid weights and the
product text index, cached per process and reloaded when the artifacts change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from finetune.recommend.base import Scorer
from finetune.recommend.data import History
from finetune.recommend.hybrid import Hybrid
from finetune.recommend.train import RecommendMeta, load_components
from knowledge.vector_index import VectorIndex


class ModelMissingError(FileNotFoundError):
    pass


@dataclass
class TrainedRecommender:
    meta: RecommendMeta
    items: list[str]
    item_index: dict[str, int]
    components: dict[str, Scorer]
    text_index: VectorIndex | None

    def hybrid(self, protocol: str) -> Hybrid:
        return Hybrid(list(self.components.values()), self.meta.weights[protocol])

    def explain_parts(self, history: History, protocol: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(blended scores, weighted part per component) for one user."""
        hybrid = self.hybrid(protocol)
        parts = {name: hybrid.weights[name] * part[0] for name, part in hybrid.parts([history]).items()}
        return sum(parts.values()), parts


def load_trained(folder: Path) -> TrainedRecommender:
    meta_file = folder / "meta.json"
    if not meta_file.is_file():
        raise ModelMissingError(str(folder))
    return _load(folder, meta_file.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(folder: Path, _mtime: int) -> TrainedRecommender:
    meta = RecommendMeta.model_validate_json((folder / "meta.json").read_text())
    items = json.loads((folder / "items.json").read_text())
    text_dir = folder / "text_index"
    return TrainedRecommender(
        meta=meta, items=items, item_index={item: i for i, item in enumerate(items)},
        components=load_components(folder, meta.components),
        text_index=VectorIndex.load(text_dir) if (text_dir / "meta.json").is_file() else None,
    )
