"""The promotion gate on toy scores, and on real trained versions: a broken candidate (trained
on shuffled labels) is refused and the serving version stays."""

import dataclasses

import numpy as np
import pytest

from finetune import registry
from finetune.behavior.data import Split, TaskSpec, load_task
from finetune.behavior.promotion import gate_and_promote
from finetune.behavior.train import train_and_gate, train_one
from finetune.gate import behaviour_gate, fast_auc
from knowledge import warehouse
from tests.behavior_data import build_tiny_warehouse, random_shop_events


def toy(n: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.05, 0.95, n)
    return q, (rng.random(n) < q).astype(float), rng


def test_fast_auc_matches_scikit_learn():
    from sklearn.metrics import roc_auc_score

    q, y, rng = toy()
    p = np.round(q + rng.normal(0, 0.2, len(q)), 1)  # with ties
    assert fast_auc(y, p) == pytest.approx(roc_auc_score(y, p))


def test_gate_refuses_a_worse_candidate_and_passes_an_equal_one():
    q, y, rng = toy()
    noisy = np.clip(q + rng.normal(0, 0.4, len(q)), 0.01, 0.99)
    worse = behaviour_gate(y, noisy, q, n_boot=300)
    assert not worse.promote and worse.reason.startswith("refused: AUC worse")
    assert worse.auc_diff_ci[1] < 0
    same = behaviour_gate(y, np.clip(q + rng.normal(0, 0.01, len(q)), 0, 1), q, n_boot=300)
    assert same.promote and same.reason.startswith("passed")


def test_gate_refuses_a_miscalibrated_candidate_with_the_same_ranking():
    q, y, _ = toy()
    shifted = np.clip(q * 0.6, 0, 1)  # same order, probabilities too low
    verdict = behaviour_gate(y, shifted, q, n_boot=300)
    assert not verdict.promote and "ECE worse" in verdict.reason


def test_a_first_version_must_beat_chance():
    q, y, rng = toy()
    assert behaviour_gate(y, q, None, n_boot=300).promote
    assert not behaviour_gate(y, rng.random(len(y)), None, n_boot=300).promote


@pytest.fixture(scope="module")
def shop_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate_shop")
    build_tiny_warehouse(root / "data" / "rand.duckdb", random_shop_events())
    return root


def test_a_candidate_trained_on_shuffled_labels_is_refused(settings, shop_root):
    shop = settings.model_copy(update={"warehouse_dir": shop_root / "data", "shop": "rand",
                                       "gate_bootstrap": 300})
    spec = TaskSpec(horizon_days=30, train_cutoffs=3, step_days=20)
    _, first = train_and_gate(shop, spec, ["logreg", "lightgbm"])
    assert first.promoted, first.verdict.reason
    serving = registry.load(shop).slot(first.slot).serving.version
    con = warehouse.connect(shop.warehouse)
    data = load_task(con, spec)
    end = con.execute("SELECT max(ts) FROM events").fetchone()[0]
    con.close()
    labels = np.random.default_rng(0).permutation(data.train.labels)
    broken = dataclasses.replace(data, train=Split(data.train.features, labels,
                                                   data.train.cutoffs))
    trained = [train_one(shop, "rand", broken, "logreg", end)]
    result = gate_and_promote(shop, "rand", data, trained, lambda categories: None)
    assert not result.promoted and "refused" in result.verdict.reason
    slot = registry.load(shop).slot(first.slot)
    assert slot.serving.version == serving
    assert slot.get(result.winner).status == "candidate"
    assert "refused" in slot.get(result.winner).note
