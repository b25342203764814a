"""Every uplift model finds who the arms help on a toy experiment with known effects."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.uplift.data import FeatureSpec, covariates_frame
from finetune.uplift.forest import apply_bins, make_bins
from finetune.uplift.models import MODELS, build


@pytest.fixture(scope="module")
def toy(uplift_experiment):
    cov = covariates_frame(uplift_experiment["covariates"])
    X = FeatureSpec.fit(cov).transform(cov)
    arm = uplift_experiment["arm"].map({"control": 0, "email": 1, "coupon": 2}).to_numpy()
    y = uplift_experiment["conversion"].astype(int).to_numpy()
    true = np.column_stack([0.2 * (cov["group"] == "a"), 0.15 * (cov["x"] > 5)])
    return X, arm, y, true


def _fit(name, toy):
    X, arm, y, _ = toy
    return build(name, leaf=40, quick=True, seed=1).fit(X, arm, y, np.full(3, 1 / 3))


@pytest.mark.parametrize("name", [m for m in MODELS if m != "response_model"])
def test_uplift_model_ranks_each_arm_by_its_true_effect(name, toy):
    X, _, _, true = toy
    pred = _fit(name, toy).predict(X)
    assert pred.shape == (len(X), 2)
    for k in range(2):
        assert np.corrcoef(pred[:, k], true[:, k])[0, 1] > 0.5, f"arm {k + 1}"


def test_response_model_cannot_choose_between_arms(toy):
    pred = _fit("response_model", toy).predict(toy[0])
    assert np.array_equal(pred[:, 0], pred[:, 1])


def test_models_reject_bad_training_data(toy):
    X, arm, y, _ = toy
    model = build("t_learner")
    with pytest.raises(ValueError, match="expected 0..2"):
        model.fit(X, np.where(arm == 2, 1, arm), y, np.full(3, 1 / 3))
    with pytest.raises(ValueError, match="binary"):
        model.fit(X, arm, y * 2, np.full(3, 1 / 3))
    with pytest.raises(ValueError, match="sum to 1"):
        model.fit(X, arm, y, np.array([0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match="unknown uplift model"):
        build("magic")


def test_bins_split_on_edges():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    edges = make_bins(X, 4)
    bins = apply_bins(X, edges)[:, 0]
    assert list(bins) == sorted(bins) and len(set(bins)) == 4
    # a value equal to an edge goes left (bin <= b  <=>  x <= edges[b])
    assert apply_bins(np.array([[edges[0][0]]]), edges)[0, 0] == 0
