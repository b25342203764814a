"""Item-kNN: items bought (or viewed) by the same customers, cosine over the user-item matrix,
keeping the top neighbours of each item. A user's score is their recency-weighted history
times this similarity matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import sparse

from finetune.recommend.base import restore, save_parts
from finetune.recommend.data import History, TrainData


def top_per_row(matrix: sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    """Keep the `keep` largest entries of every row."""
    matrix = matrix.tocsr()
    rows, cols, vals = [], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        data, idx = matrix.data[start:end], matrix.indices[start:end]
        if len(data) > keep:
            best = np.argpartition(-data, keep)[:keep]
            data, idx = data[best], idx[best]
        rows.append(np.full(len(idx), row))
        cols.append(idx)
        vals.append(data)
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=matrix.shape, dtype=np.float32,
    )


class ItemKNN:
    name = "itemknn"

    def __init__(self, neighbours: int = 100, half_life_days: float = 30.0):
        self.neighbours = neighbours
        self.half_life_days = half_life_days
        self.similarity = sparse.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: TrainData) -> ItemKNN:
        seen = (data.matrix() > 0).astype(np.float32).tocsc()
        counts = np.asarray(seen.sum(axis=0)).ravel()
        norm = sparse.diags(1.0 / np.sqrt(np.maximum(counts, 1.0)))
        cooc = (norm @ (seen.T @ seen) @ norm).tocsr()
        cooc.setdiag(0)
        cooc.eliminate_zeros()
        self.similarity = top_per_row(cooc, self.neighbours)
        return self

    def score(self, histories: list[History]) -> np.ndarray:
        n_items = self.similarity.shape[0]
        weights = np.stack([h.recency_vector(n_items, self.half_life_days) for h in histories])
        # similarity rows are "from" items: score[j] = sum_i w[i] * sim[i, j]
        return np.asarray((self.similarity.T @ weights.T).T, dtype=np.float32)

    def strongest_source(self, history_items: np.ndarray, item: int) -> tuple[int, float]:
        """The history item most similar to `item` (for "bought together with ..." reasons)."""
        column = self.similarity[:, item].toarray().ravel()
        sims = column[history_items]
        best = int(np.argmax(sims)) if len(sims) else 0
        return (int(history_items[best]), float(sims[best])) if len(sims) else (-1, 0.0)

    def save(self, folder: Path) -> None:
        save_parts(folder, {"neighbours": self.neighbours, "half_life_days": self.half_life_days})
        sparse.save_npz(folder / "similarity.npz", self.similarity)

    @classmethod
    def load(cls, folder: Path) -> ItemKNN:
        model = restore(cls, folder)
        model.similarity = sparse.load_npz(folder / "similarity.npz").tocsr()
        return model
