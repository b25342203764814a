"""One small interface over FAISS: string ids + float32 vectors + metadata, searched by inner
product (use unit vectors for cosine).

``flat`` (IndexFlatIP) is exact and the reference; ``hnsw`` (IndexHNSWFlat) and ``ivf``
(IndexIVFFlat) are approximate, for catalogues where exact search is too slow. A saved index is
a folder: ``index.faiss``, ``ids.json`` and ``meta.json`` (model, data version, dimension, index
type, build parameters), so a reader can refuse an index built by another model or from stale
data. A vector database can later replace this class behind the same four methods.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import faiss
import numpy as np
from pydantic import BaseModel, Field

from knowledge.artifacts import utc_now, write_meta

IndexType = Literal["flat", "hnsw", "ivf"]


class IndexMeta(BaseModel):
    model: str = Field(description="what made the vectors, e.g. all-MiniLM-L6-v2, "
                       "multilingual-e5-small-q4 or als-64")
    data_version: str = Field(description="identifies the data the vectors came from")
    dimension: int
    index_type: IndexType
    count: int
    params: dict = Field(default_factory=dict, description="build/search parameters")
    created_at: str = Field(default_factory=utc_now)


class VectorIndexError(ValueError):
    """A vector index that cannot be built, loaded or searched; the message says why."""


def _as_matrix(vectors: np.ndarray, dimension: int | None = None) -> np.ndarray:
    matrix = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
    if matrix.ndim != 2 or (dimension is not None and matrix.shape[1] != dimension):
        raise VectorIndexError(f"expected vectors of dimension {dimension}, got shape {matrix.shape}")
    return matrix


def _make_faiss(index_type: IndexType, vectors: np.ndarray, params: dict) -> faiss.Index:
    d = vectors.shape[1]
    if index_type == "flat":
        index = faiss.IndexFlatIP(d)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(d, params.setdefault("m", 32), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.setdefault("ef_construction", 80)
        index.hnsw.efSearch = params.setdefault("ef_search", 64)
    elif index_type == "ivf":
        # ~sqrt(n) lists, each with the >= 39 training points faiss asks for
        nlist = params.setdefault("nlist", max(1, min(4096, int(np.sqrt(len(vectors))),
                                                      len(vectors) // 39)))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if len(vectors) > 64 * nlist:  # faiss needs ~40-256 points per centroid to train
            rows = np.random.default_rng(0).choice(len(vectors), 64 * nlist, replace=False)
            sample = vectors[rows]
        index.train(sample)
        index.nprobe = params.setdefault("nprobe", min(nlist, 16))
    else:
        raise VectorIndexError(f"unknown index type {index_type!r}; choose flat, hnsw or ivf")
    return index


def set_search_params(index: faiss.Index, params: dict) -> None:
    if "ef_search" in params and hasattr(index, "hnsw"):
        index.hnsw.efSearch = int(params["ef_search"])
    if "nprobe" in params and hasattr(index, "nprobe"):
        index.nprobe = int(params["nprobe"])


class VectorIndex:
    """ids[i] is the id of the i-th vector added."""

    def __init__(self, index: faiss.Index, ids: list[str], meta: IndexMeta):
        self.index, self.ids, self.meta = index, ids, meta

    @classmethod
    def build(cls, ids: list[str], vectors: np.ndarray, index_type: IndexType = "flat", *,
              model: str, data_version: str, **params) -> VectorIndex:
        ids = [str(i) for i in ids]
        if len(ids) == 0:
            raise VectorIndexError("cannot build an index over zero vectors")
        matrix = _as_matrix(vectors)
        if len(ids) != len(matrix):
            raise VectorIndexError(f"{len(ids)} ids but {len(matrix)} vectors")
        if len(set(ids)) != len(ids):
            raise VectorIndexError("ids must be unique")
        index = _make_faiss(index_type, matrix, params)
        index.add(matrix)
        meta = IndexMeta(model=model, data_version=data_version, dimension=matrix.shape[1],
                         index_type=index_type, count=len(ids), params=params)
        return cls(index, ids, meta)

    def tune(self, **params) -> None:
        """Change search-time parameters (``ef_search`` for hnsw, ``nprobe`` for ivf)."""
        set_search_params(self.index, params)
        self.meta.params.update(params)

    def search_rows(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row numbers), each (n_queries, k); row -1 where fewer than k were found."""
        matrix = _as_matrix(queries, self.meta.dimension)
        return self.index.search(matrix, min(k, self.meta.count))

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k nearest ids to one query vector, best first, with their inner products."""
        scores, rows = self.search_rows(query, k)
        return [(self.ids[r], float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def save(self, folder: Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(folder / "index.faiss"))
        (folder / "ids.json").write_text(json.dumps(self.ids))
        write_meta(folder, self.meta)
        return folder

    @classmethod
    def load(cls, folder: Path) -> VectorIndex:
        folder = Path(folder)
        missing = [n for n in ("index.faiss", "ids.json", "meta.json") if not (folder / n).is_file()]
        if missing:
            raise VectorIndexError(
                f"{folder} is not a saved vector index (missing {', '.join(missing)}); "
                "build it with `shopmind index build`"
            )
        meta = IndexMeta.model_validate_json((folder / "meta.json").read_text())
        index = faiss.read_index(str(folder / "index.faiss"))
        set_search_params(index, meta.params)
        ids = json.loads((folder / "ids.json").read_text())
        if len(ids) != index.ntotal or index.d != meta.dimension:
            raise VectorIndexError(f"{folder}: ids, index and meta.json disagree; rebuild the index")
        return cls(index, ids, meta)
