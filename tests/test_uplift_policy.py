"""The targeting rule: profit = uplift x margin - cost, best arm, budget and user cap, intervals."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.uplift.policy import Calibration, Economics, best_arm, interval, make_plan, select

# margin = 100 x 0.5 = 50 per incremental conversion
ECON = Economics(order_value=100, margin_rate=0.5, contact_cost=[1.0, 3.0])
UPLIFT = np.array([
    [0.10, 0.00],   # arm 1: 50*0.10-1 = 4.0   arm 2: -3.0   -> arm 1, 4.0
    [0.02, 0.10],   # arm 1: 0.0              arm 2: 2.0    -> arm 2, 2.0
    [0.01, 0.01],   # arm 1: -0.5             arm 2: -2.5   -> not profitable
    [0.05, 0.09],   # arm 1: 1.5              arm 2: 1.5    -> tie: the first (cheaper) arm
    [-0.05, -0.02], # harmed by both: never treated
])


def test_best_arm_maximises_incremental_profit():
    arm, profit = best_arm(UPLIFT, ECON)
    assert arm.tolist() == [1, 2, 1, 1, 1]
    assert profit[:4] == pytest.approx([4.0, 2.0, -0.5, 1.5])


def test_plan_treats_only_profitable_users_best_first():
    plan = make_plan(UPLIFT, ECON)
    assert plan.rows.tolist() == [0, 1, 3]
    assert plan.arm.tolist() == [1, 2, 1]
    assert plan.cost.sum() == pytest.approx(5.0)
    assert plan.not_profitable == 2


def test_budget_skips_a_contact_that_no_longer_fits_but_keeps_cheaper_ones():
    # budget 4: user 0 (cost 1) fits, user 1 (cost 3) fits -> 4 spent; user 3 (cost 1) does not
    assert make_plan(UPLIFT, ECON, budget=4).rows.tolist() == [0, 1]
    # budget 2.5: user 0 (1), user 1 (3) does not fit and is skipped, user 3 (1) fits
    plan = make_plan(UPLIFT, ECON, budget=2.5)
    assert plan.rows.tolist() == [0, 3] and plan.skipped_by_budget == 1


def test_user_cap_takes_the_most_profitable():
    assert make_plan(UPLIFT, ECON, max_users=1).rows.tolist() == [0]


def test_budget_and_cap_must_be_positive():
    with pytest.raises(ValueError, match="budget must be positive"):
        select(np.ones(2), np.ones(2), budget=0)
    with pytest.raises(ValueError, match="max_users must be positive"):
        select(np.ones(2), np.ones(2), max_users=-1)


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
