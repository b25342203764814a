"""The targeting rule: profit = uplift x margin - cost, best arm, budget and user cap, intervals."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.uplift.policy import Calibration, Economics, choose, interval, make_plan, select

# margin = 100 x 0.5 = 50 per incremental conversion
ECON = Economics(order_value=100, margin_rate=0.5, contact_cost=[1.0, 3.0])
UPLIFT = np.array([
    [0.10, 0.00],   # arm 1: 50*0.10-1 = 4.0   arm 2: -3.0   -> arm 1, 4.0
    [0.02, 0.10],   # arm 1: 0.0              arm 2: 2.0    -> arm 2, 2.0
    [0.01, 0.01],   # arm 1: -0.5             arm 2: -2.5   -> not profitable
    [0.05, 0.09],   # arm 1: 1.5              arm 2: 1.5    -> tie: the first (cheaper) arm
    [-0.05, -0.02], # harmed by both: never treated
])


def test_plan_treats_only_profitable_users_with_their_best_arm_best_first():
    plan = make_plan(UPLIFT, ECON)
    assert plan.rows.tolist() == [0, 1, 3]
    assert (plan.column + 1).tolist() == [1, 2, 1]
    assert plan.profit == pytest.approx([4.0, 2.0, 1.5])
    assert plan.cost.sum() == pytest.approx(5.0) and plan.price == 0
    assert plan.not_profitable == 2


def test_user_cap_takes_the_most_profitable():
    assert make_plan(UPLIFT, ECON, max_users=1).rows.tolist() == [0]
    assert make_plan(UPLIFT, ECON, max_users=100).rows.tolist() == [0, 1, 3]


def test_budget_is_never_exceeded_and_spent_where_profit_per_cost_is_highest():
    # budget 2.5 cannot pay user 1's arm-2 contact (3.0); users 0 and 3 by arm 1 (1.0 each) fit
    plan = make_plan(UPLIFT, ECON, budget=2.5)
    assert plan.rows.tolist() == [0, 3] and plan.cost.sum() <= 2.5
    assert plan.price > 0  # the budget binds


def test_binding_budget_prefers_the_cheap_arm_that_earns_a_little_less():
    # one user: arm 1 earns 50*0.10 - 1 = 4, arm 2 earns 50*0.16 - 3 = 5 (more, but 3x the cost)
    econ = Economics(order_value=100, margin_rate=0.5, contact_cost=[1.0, 3.0])
    two_users = np.array([[0.10, 0.16], [0.10, 0.16]])
    assert (make_plan(two_users, econ).column + 1).tolist() == [2, 2]  # no budget: max profit
    tight = make_plan(two_users, econ, budget=2.0)  # both by e-mail (8) beats one by coupon (5)
    assert (tight.column + 1).tolist() == [1, 1] and tight.profit.sum() == pytest.approx(8.0)


def test_allowed_arms_restrict_the_choice():
    plan = make_plan(UPLIFT, ECON, allowed=np.array([False, True]))
    assert (plan.column + 1).tolist() == [2, 2] and plan.rows.tolist() == [1, 3]


def test_choose_skips_unavailable_options():
    value = np.array([[-np.inf, 5.0], [3.0, -np.inf]])
    decision = choose(value, np.array([1.0, 1.0]))
    assert decision.rows.tolist() == [0, 1] and decision.column.tolist() == [1, 0]


def test_select_skips_a_row_that_no_longer_fits_but_keeps_cheaper_ones():
    rows = select(np.array([5.0, 4.0, 3.0]), np.array([1.0, 3.0, 1.0]), budget=2.5)
    assert rows.tolist() == [0, 2]


def test_budget_and_cap_must_be_positive():
    with pytest.raises(ValueError, match="budget must be positive"):
        make_plan(UPLIFT, ECON, budget=0)
    with pytest.raises(ValueError, match="max_users must be positive"):
        make_plan(UPLIFT, ECON, max_users=-1)


def _calibration(n=4000, seed=0):
    """Held-out users where arm 1 adds exactly +0.2 in the top score bin and nothing elsewhere."""
    rng = np.random.default_rng(seed)
    score = rng.uniform(0, 1, (n, 1))
    arm = rng.integers(0, 2, n)
    y = (rng.random(n) < 0.1 + 0.2 * (arm == 1) * (score[:, 0] > 0.8)).astype(int)
    return Calibration.fit(score, arm, y, y * 10.0, n_bins=5), score


def test_calibration_estimate_recovers_the_heldout_uplift_with_an_interval():
    cal, _ = _calibration()
    plan_scores = np.full(100, 0.95)  # 100 users from the top bin: expect ~20 more conversions
    out = interval([cal.draws(np.ones(100, int), plan_scores)])
    conv = out["conversions"]
    assert conv["low"] < 20 < conv["high"]
    assert conv["low"] < conv["estimate"] < conv["high"]
    assert out["revenue"]["estimate"] == pytest.approx(10 * conv["estimate"])
    bottom = interval([cal.draws(np.ones(100, int), np.full(100, 0.1))])["conversions"]
    assert bottom["low"] < 0 < bottom["high"]  # no effect there: the interval covers zero


def test_calibration_survives_save_and_load(tmp_path):
    cal, _ = _calibration(n=500)
    cal.save(tmp_path / "c.npz")
    again = Calibration.load(tmp_path / "c.npz")
    args = (np.ones(5, int), np.linspace(0, 1, 5))
    assert again.draws(*args, n_boot=20)["conversions"][0] == \
        cal.draws(*args, n_boot=20)["conversions"][0]
