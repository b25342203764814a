"""The recommendation models and metrics on tiny generated data (no packaged model needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finetune.recommend.als import ALS
from finetune.recommend.data import DAY, History, train_data
from finetune.recommend.evaluate import (
    evaluate,
    mask_history,
    ranking_metrics,
    temporal_split,
    top_k,
)
from finetune.recommend.hybrid import Hybrid
from finetune.recommend.itemknn import ItemKNN
from finetune.recommend.popularity import Popularity
from finetune.recommend.repeat import Repeat
from finetune.recommend.sasrec import SASRec
from finetune.recommend.text import TextSimilarity


def events(rows: list[tuple[str, str, float]], kind: str = "purchase") -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "product_id", "ts"]).assign(event_type=kind)
    return frame.sort_values(["user_id", "ts"], kind="stable")


def repeat_buyers(n_users: int = 120, seed: int = 0) -> pd.DataFrame:
    """Each user mostly re-buys 3 favourites out of 40 items, one purchase every 3 days."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        favourites = rng.choice(40, 3, replace=False)
        for t in range(40):
            item = rng.choice(favourites) if rng.random() < 0.8 else rng.integers(40)
            rows.append((f"u{u}", f"p{item}", t * 3 * DAY + rng.random()))
    return events(rows)


def test_ranking_metrics_on_a_hand_worked_example():
    ranked = np.array([[5, 1, 2] + list(range(10, 27)), [7, 8, 9] + list(range(30, 47))])
    out = ranking_metrics(ranked, [{1, 99}, {100}])
    assert out["hr@10"].tolist() == [1.0, 0.0]
    assert out["ndcg@10"][0] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert out["recall@20"].tolist() == [0.5, 0.0]
    assert out["mrr@20"].tolist() == [0.5, 0.0]


def test_new_protocol_drops_history_items_from_truth_and_users_without_new_items():
    frame = events([("a", "x", 1), ("a", "y", 2), ("a", "x", 10), ("a", "z", 11),
                    ("b", "x", 1), ("b", "x", 10), ("c", "q", 10)])
    split = temporal_split(frame, cutoff=5)
    index = split.train.item_index()
    assert split.train.items == ["x", "y"]  # q and z were never seen before the cutoff
    assert split.eval["all"].truth == [{index["x"]}, {index["x"]}]
    assert split.eval["new"].histories == []  # a's z is not in the catalogue; b only repeats


def test_new_protocol_never_recommends_history_items():
    split = temporal_split(repeat_buyers(), cutoff=100 * DAY)
    hists = split.eval["new"].histories
    scores = mask_history(Popularity().fit(split.train).score(hists), hists)
    for hist, ranked in zip(hists, top_k(scores, 20)):
        assert not set(ranked) & set(hist.items)
    assert all(not t & set(h.items) for h, t in zip(hists, split.eval["new"].truth))


def test_repeat_ranks_own_items_by_recency_weighted_count():
    hist = History(items=np.array([0, 1, 1, 2]), ts=np.array([0, 50, 60, 100]) * DAY,
                   weights=np.ones(4, dtype=np.float32))
    scores = Repeat(half_life_days=10).fit(train_data(events([("u", "a", 0)]), ["a", "b", "c", "d"]))
    ranked = np.argsort(-scores.score([hist])[0])
    assert ranked.tolist()[:3] == [2, 1, 0] and scores.score([hist])[0, 3] == 0


def test_itemknn_recommends_what_the_same_customers_bought():
    rows = [(f"u{u}", item, t) for u in range(10) for t, item in enumerate(["tea", "mug"])]
    rows += [(f"v{u}", item, t) for u in range(10) for t, item in enumerate(["pen", "ink"])]
    data = train_data(events(rows))
    model = ItemKNN().fit(data)
    index = data.item_index()
    hist = History(items=np.array([index["tea"]]), ts=np.zeros(1), weights=np.ones(1, np.float32))
    scores = model.score([hist])[0]
    assert np.argmax(scores) == index["mug"] and scores[index["ink"]] == 0
    assert model.strongest_source(np.array([index["tea"], index["pen"]]), index["mug"])[0] == index["tea"]


def test_als_fold_in_matches_implicits_own_user_solve():
    from implicit.als import AlternatingLeastSquares

    data = train_data(repeat_buyers(60))
    model = ALS(factors=8, iterations=5).fit(data)
    matrix = data.matrix()
    matrix.data = model._confidence(matrix.data).astype(np.float32)
    reference = AlternatingLeastSquares(factors=8, regularization=model.regularization,
                                        use_gpu=False)
    reference.item_factors = model.item_factors
    reference.user_factors = np.zeros((matrix.shape[0], 8), dtype=np.float32)
    expected = reference.recalculate_user(np.arange(3), matrix[:3])
    histories = list(data.histories.values())[:3]
    got = np.stack([model.user_vector(h) for h in histories])
    assert np.allclose(got, expected, atol=1e-3)


def test_sasrec_learns_a_fixed_order():
    """Every user walks a -> b -> c -> d -> a ...: after c the next item is d."""
    order = ["a", "b", "c", "d", "e"]
    rows = [(f"u{u}", order[(u + t) % 5], float(t)) for u in range(40) for t in range(12)]
    data = train_data(events(rows))
    model = SASRec(dim=16, layers=1, heads=1, max_len=8, dropout=0.0, epochs=60, lr=5e-3,
                   max_seconds=600).fit(data, progress=False)  # bounded by epochs
    index = data.item_index()
    hist = History(items=np.array([index["a"], index["b"], index["c"]]), ts=np.arange(3.0),
                   weights=np.ones(3, np.float32))
    assert data.items[int(np.argmax(model.score([hist])[0]))] == "d"


@pytest.mark.parametrize("make", [
    lambda: Popularity(), lambda: Repeat(), lambda: ItemKNN(), lambda: ALS(factors=8, iterations=3),
    lambda: SASRec(dim=8, layers=1, heads=1, max_len=5, epochs=1),
    lambda: TextSimilarity(encoder=lambda texts: np.eye(len(texts), 8, dtype=np.float32)),
])
def test_every_model_scores_the_same_after_save_and_load(tmp_path, make):
    data = train_data(repeat_buyers(20))
    data.texts = [f"item {i}" for i in data.items]
    model = make().fit(data)
    model.save(tmp_path / model.name)
    loaded = type(model).load(tmp_path / model.name)
    histories = list(data.histories.values())[:4]
    assert np.allclose(loaded.score(histories), model.score(histories), atol=1e-5)


def test_hybrid_tuned_on_validation_leans_on_the_repeat_list_when_people_repeat():
    frame = repeat_buyers()
    val = temporal_split(frame[frame["ts"] < 100 * DAY], cutoff=80 * DAY)
    models = [Popularity().fit(val.train), Repeat().fit(val.train), ItemKNN().fit(val.train)]
    hybrid = Hybrid(models)
    weights = hybrid.tune(val.eval["all"], "all")
    assert weights["repeat"] > weights["popularity"]
    test = temporal_split(frame, cutoff=100 * DAY)
    refit = [type(m)().fit(test.train) for m in models]
    n = test.train.n_items
    blended = evaluate(Hybrid(refit, weights).score, test.eval["all"], "all", n)
    alone = evaluate(refit[1].score, test.eval["all"], "all", n)
    assert blended["ndcg@10"] >= alone["ndcg@10"] - 0.01
