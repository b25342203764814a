"""A trained recommender loaded for serving: the registry's serving version of the shop
(``recommend/<shop>``) with its components, hybrid weights and product text index, cached per
process (a version folder never changes; promote and rollback change which one is read)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from finetune import registry
from finetune.recommend.als import ALS
from finetune.recommend.artifacts import RecommendMeta
from finetune.recommend.base import Scorer
from finetune.recommend.data import History
from finetune.recommend.hybrid import Hybrid
from finetune.recommend.itemknn import ItemKNN
from finetune.recommend.popularity import Popularity
from finetune.recommend.repeat import Repeat
from finetune.recommend.sasrec import SASRec
from finetune.recommend.text import TextSimilarity
from knowledge.product_index import recommend_dir
from knowledge.settings import Settings
from knowledge.vector_index import VectorIndex

COMPONENTS: dict[str, type] = {
    "popularity": Popularity, "repeat": Repeat, "itemknn": ItemKNN, "als": ALS,
    "text": TextSimilarity, "sasrec": SASRec,
}


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


def load_components(folder: Path, names: list[str]) -> dict[str, Scorer]:
    return {name: COMPONENTS[name].load(folder / name) for name in names}


def serving_recommender(settings: Settings) -> TrainedRecommender:
    """The serving version: ModelMissingError when none was trained, RegistryError when the
    gate refused every candidate or its folder is gone."""
    folder = registry.serving_folder(settings, registry.recommend_slot(settings.shop))
    if folder is None:
        raise ModelMissingError(str(recommend_dir(settings)))
    return load_trained(folder)


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
