"""Drift statistics: a shifted feature is flagged, an unshifted one is not."""

import numpy as np
import pandas as pd

from finetune.behavior.drift import compare_features, psi


def frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({"stable": rng.normal(0, 1, 4000),
                              "shifted": rng.exponential(2, 4000),
                              "sometimes_missing": rng.normal(0, 1, 4000)})
    current = pd.DataFrame({"stable": rng.normal(0, 1, 3000),
                            "shifted": rng.exponential(2, 3000) + 1.5,
                            "sometimes_missing": rng.normal(0, 1, 3000)})
    current.loc[current.index[:1000], "sometimes_missing"] = np.nan  # a third now missing
    return reference, current


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    reference, current = frames()
    assert psi(reference["stable"], current["stable"]) < 0.02
    assert psi(reference["shifted"], current["shifted"]) > 0.5


def test_drift_flags_the_shifted_feature_and_not_the_unshifted_one():
    reference, current = frames()
    features = {f.feature: f for f in compare_features(reference, current, threshold=0.2)}
    assert features["shifted"].flagged and not features["stable"].flagged
    assert features["sometimes_missing"].flagged  # missing values count as their own bin
    assert features["shifted"].ks > 0.3 and features["shifted"].ks_pvalue < 1e-6
    assert features["stable"].ks_pvalue > 1e-3
