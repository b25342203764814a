"""Our uplift metrics against values computed by hand and by scikit-uplift 0.5.1."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.uplift import metrics

# four users, best-scored first: treated responder, treated non-responder, control responder,
# control non-responder
Y = np.array([1, 0, 1, 0])
T = np.array([1, 1, 0, 0])
SCORE = np.array([0.4, 0.3, 0.2, 0.1])


def test_qini_curve_by_hand():
    x, v = metrics.qini_curve(Y, SCORE, T)
    # top 3: 1 treated responder of 2 treated, 1 control responder of 1 control -> 1 - 1*2/1
    assert x.tolist() == [0, 1, 2, 3, 4]
    assert v.tolist() == [0, 1, 1, -1, 0]


def test_qini_auc_by_hand():
    # model area 0.5 + 1 + 0 - 0.5 = 1; perfect curve (0,0) (1,1) (3,1) (4,0) has area 3;
    # the random diagonal ends at 0 -> 1/3
    assert metrics.qini_auc(Y, SCORE, T) == pytest.approx(1 / 3)


def test_auuc_by_hand():
    # uplift curve 0, 1, 1, -1.5, 0 -> area 0.5; perfect order (3, 2, 1, 0 scores) -> 4.5
    assert metrics.auuc(Y, SCORE, T) == pytest.approx(1 / 9)


def test_uplift_at_k_and_ate_by_hand():
    assert metrics.uplift_at_k(Y, SCORE, T, 0.75) == pytest.approx(0.5 - 1.0)
    assert metrics.ate(Y, T) == 0.0


def test_perfect_ranking_scores_one_and_reverse_scores_below_zero():
    rng = np.random.default_rng(0)
    y, t = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    perfect = y * t - y * (1 - t) + 0.0
    assert metrics.qini_auc(y, perfect, t) == pytest.approx(1.0)
    assert metrics.qini_auc(y, -perfect, t) < 0


# scikit-uplift 0.5.1 on this exact input gave these values (qini_auc_score, uplift_auc_score,
# uplift_at_k(strategy="overall")); the live comparison below re-checks them when it is installed
SKLIFT = {"qini_auc": 0.18841125545869755, "auuc": 0.21169318498579215,
          "uplift_at_10": 0.30147058823529416, "uplift_at_30": 0.3522036474164134}


def _sklift_case():
    rng = np.random.default_rng(7)
    n = 500
    y, t = rng.integers(0, 2, n), rng.integers(0, 2, n)
    score = np.round(rng.normal(size=n) + 0.5 * y * t - 0.3 * y * (1 - t), 1)  # with ties
    return y, score, t


def test_matches_recorded_sklift_values():
    out = metrics.evaluate(*_sklift_case(), ks=(0.1, 0.3))
    for key, value in SKLIFT.items():
        assert out[key] == pytest.approx(value, rel=1e-12)


def test_matches_sklift_live():
    sklift = pytest.importorskip("sklift.metrics")
    rng = np.random.default_rng(3)
    for n in (50, 3000):
        y, t = rng.integers(0, 2, n), rng.integers(0, 2, n)
        score = np.round(rng.normal(size=n) + 0.3 * y * t, 1)
        assert metrics.qini_auc(y, score, t) == pytest.approx(sklift.qini_auc_score(y, score, t))
        assert metrics.auuc(y, score, t) == pytest.approx(sklift.uplift_auc_score(y, score, t))
        assert metrics.uplift_at_k(y, score, t, 0.3) == pytest.approx(
            sklift.uplift_at_k(y, score, t, "overall", 0.3))


@pytest.mark.parametrize("k", [0, -0.1, 1.5])
def test_uplift_at_k_rejects_bad_share(k):
    with pytest.raises(ValueError, match="share of users"):
        metrics.uplift_at_k(Y, SCORE, T, k)


def test_uplift_at_k_without_control_in_top_says_so():
    with pytest.raises(ValueError, match="no treated or no control"):
        metrics.uplift_at_k(Y, SCORE, T, 0.5)


def test_metrics_reject_mismatched_lengths_and_single_group():
    with pytest.raises(ValueError, match="same length"):
        metrics.qini_auc(Y, SCORE[:3], T)
    with pytest.raises(ValueError, match="both treated and control"):
        metrics.qini_auc(Y, SCORE, np.ones(4))
