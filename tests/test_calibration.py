"""Calibration: a miscalibrated score comes out calibrated, the method is chosen on held-out
folds, and the calibrator travels with the model."""

import numpy as np
import pytest

from finetune.behavior.calibration import Calibrator, choose_calibrator
from finetune.behavior.metrics import expected_calibration_error


def overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True probabilities q, a score that pushes them towards 0 and 1 (logit x 3), labels."""
    rng = np.random.default_rng(seed)
    q = rng.beta(2, 5, n)
    logit = np.log(q / (1 - q)) * 3 + 0.5
    return 1 / (1 + np.exp(-logit)), (rng.random(n) < q).astype(float)


def test_calibration_lowers_ece_on_a_miscalibrated_score():
    p_val, y_val = overconfident(3000, seed=0)
    p_test, y_test = overconfident(3000, seed=1)  # held out: the calibrator never saw it
    calibrator, report = choose_calibrator(p_val, y_val)
    before = expected_calibration_error(y_test, p_test)
    after = expected_calibration_error(y_test, calibrator(p_test))
    assert report.method in ("platt", "isotonic") and before > 0.1
    assert after < 0.03 and after < before / 3
    assert report.cv_log_loss[report.method] < report.cv_log_loss["identity"]


def test_a_calibrated_score_may_keep_the_identity_and_stays_close():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.95, 4000)
    y = (rng.random(4000) < p).astype(float)
    calibrator, report = choose_calibrator(p, y)
    assert set(report.cv_ece) == {"identity", "platt", "isotonic"}
    assert np.abs(calibrator(p) - p).mean() < 0.03


def test_calibrator_is_saved_beside_the_model_and_monotone(tmp_path):
    p, y = overconfident(2000, seed=3)
    calibrator, _ = choose_calibrator(p, y)
    calibrator.save(tmp_path)
    loaded = Calibrator.load(tmp_path)
    grid = np.linspace(0.001, 0.999, 50)
    assert np.allclose(loaded(grid), calibrator(grid))
    assert np.all(np.diff(loaded(grid)) >= -1e-12)
    assert Calibrator.load(tmp_path / "none").method == "identity"  # a model from before


def test_unknown_calibration_method_is_refused():
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        Calibrator("beta")
