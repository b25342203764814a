"""The FAISS wrapper: save/load round trip with metadata, approximate vs exact agreement, errors."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.vector_index import VectorIndex, VectorIndexError


def clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors around 20 centres, like real embeddings (not uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    vectors = centres[rng.integers(0, 20, n)] + 0.5 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_save_load_round_trip_keeps_results_and_metadata(tmp_path, kind):
    vectors = clustered(500)
    ids = [f"p{i}" for i in range(500)]
    index = VectorIndex.build(ids, vectors, kind, model="test-model", data_version="v1")
    index.save(tmp_path / "idx")
    loaded = VectorIndex.load(tmp_path / "idx")
    assert loaded.meta.model_dump() == index.meta.model_dump()
    assert (loaded.meta.index_type, loaded.meta.dimension, loaded.meta.count) == (kind, 32, 500)
    assert loaded.meta.data_version == "v1"
    for row in (0, 17, 499):
        assert loaded.search(vectors[row], 5) == index.search(vectors[row], 5)


def test_exact_search_finds_the_vector_itself_first():
    vectors = clustered(300)
    index = VectorIndex.build([str(i) for i in range(300)], vectors, model="m", data_version="v")
    hits = index.search(vectors[42], 3)
    assert hits[0][0] == "42" and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in hits] == sorted([s for _, s in hits], reverse=True)


@pytest.mark.parametrize("kind, params", [("hnsw", {"ef_search": 64}), ("ivf", {"nprobe": 8})])
def test_approximate_agrees_with_exact_on_small_data(kind, params):
    vectors, queries = clustered(3000), clustered(100, seed=1)
    ids = [str(i) for i in range(3000)]
    exact = VectorIndex.build(ids, vectors, "flat", model="m", data_version="v")
    approx = VectorIndex.build(ids, vectors, kind, model="m", data_version="v", **params)
    _, truth = exact.search_rows(queries, 10)
    _, found = approx.search_rows(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found)])
    assert recall >= 0.9


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(VectorIndexError, match="2 ids but 3 vectors"):
        VectorIndex.build(["a", "b"], clustered(3), model="m", data_version="v")
    with pytest.raises(VectorIndexError, match="unique"):
        VectorIndex.build(["a", "a"], clustered(2), model="m", data_version="v")
    with pytest.raises(VectorIndexError, match="zero vectors"):
        VectorIndex.build([], np.zeros((0, 4)), model="m", data_version="v")
    with pytest.raises(VectorIndexError, match="unknown index type"):
        VectorIndex.build(["a"], clustered(1), "lsh", model="m", data_version="v")
    index = VectorIndex.build(["a", "b"], clustered(2), model="m", data_version="v")
    with pytest.raises(VectorIndexError, match="dimension 32"):
        index.search(np.ones(8), 1)
    with pytest.raises(VectorIndexError, match="shopmind index build"):
        VectorIndex.load(tmp_path / "nothing")
