"""Meta-learners on LightGBM: S, T, X, the class transformation, and a plain response model.

Every model has the same shape: ``fit(X, arm, y, propensity)`` with ``arm`` 0 = control and
1..K = treatment arms, ``propensity[k]`` = the known probability of being assigned arm k (from
the randomisation), and ``predict(X)`` -> array (n, K): the estimated effect of each treatment
arm on P(y=1) versus the control. A binary experiment is the case K = 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lightgbm import LGBMClassifier, LGBMRegressor

LGBM_DEFAULTS: dict[str, Any] = {
    "n_estimators": 200,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 100,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "verbose": -1,
    "n_jobs": 1,  # threads spin-wait on a busy machine: 2 threads ran 20x slower than 1 here
}


def _classifier(params: dict, seed: int) -> LGBMClassifier:
    return LGBMClassifier(**{**LGBM_DEFAULTS, **params, "random_state": seed})


def _regressor(params: dict, seed: int) -> LGBMRegressor:
    return LGBMRegressor(**{**LGBM_DEFAULTS, **params, "random_state": seed})


def _p1(model: LGBMClassifier, X: np.ndarray) -> np.ndarray:
    return model.predict_proba(X)[:, 1]


def check_inputs(X: np.ndarray, arm: np.ndarray, y: np.ndarray, propensity: np.ndarray) -> int:
    """Validate a training set; returns K, the number of treatment arms."""
    n_arms = len(propensity)
    if n_arms < 2:
        raise ValueError("an uplift model needs a control and at least one treatment arm")
    if not (len(X) == len(arm) == len(y)):
        raise ValueError(f"X, arm and y differ in length: {len(X)}, {len(arm)}, {len(y)}")
    present = set(np.unique(arm).tolist())
    if present != set(range(n_arms)):
        raise ValueError(f"arms present {sorted(present)}, expected 0..{n_arms - 1} (0 = control)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("the outcome must be binary (0/1)")
    if not np.isclose(np.sum(propensity), 1.0) or np.min(propensity) <= 0:
        raise ValueError(f"propensity must be positive and sum to 1, got {list(propensity)}")
    return n_arms - 1


def _pair(arm: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of arm k or control, and their 0/1 treatment indicator."""
    rows = (arm == 0) | (arm == k)
    return rows, (arm[rows] == k).astype(float)


@dataclass
class SLearner:
    """One classifier on [X, arm indicators]; uplift = prediction with the arm minus without."""

    params: dict = field(default_factory=dict)
    seed: int = 0
    name: str = "s_learner"

    def fit(self, X, arm, y, propensity):
        self.n_treat = check_inputs(X, arm, y, propensity)
        self.model = _classifier(self.params, self.seed).fit(self._with_arm(X, arm), y)
        return self

    def _with_arm(self, X: np.ndarray, arm: np.ndarray) -> np.ndarray:
        onehot = (np.asarray(arm)[:, None] == np.arange(1, self.n_treat + 1)).astype(float)
        return np.hstack([X, onehot])

    def predict(self, X):
        base = _p1(self.model, self._with_arm(X, np.zeros(len(X), int)))
        return np.column_stack([
            _p1(self.model, self._with_arm(X, np.full(len(X), k))) - base
            for k in range(1, self.n_treat + 1)
        ])


@dataclass
class TLearner:
    """One classifier per arm; uplift = P(y | arm k) - P(y | control)."""

    params: dict = field(default_factory=dict)
    seed: int = 0
    name: str = "t_learner"

    def fit(self, X, arm, y, propensity):
        self.n_treat = check_inputs(X, arm, y, propensity)
        self.models = [_classifier(self.params, self.seed).fit(X[arm == k], y[arm == k])
                       for k in range(self.n_treat + 1)]
        return self

    def predict(self, X):
        base = _p1(self.models[0], X)
        return np.column_stack([_p1(m, X) - base for m in self.models[1:]])


@dataclass
class XLearner:
    """Künzel et al. (2019): impute individual effects with the other group's outcome model,
    regress them on X, and blend the two effect models with the known propensity."""

    params: dict = field(default_factory=dict)
    seed: int = 0
    name: str = "x_learner"

    def fit(self, X, arm, y, propensity):
        self.n_treat = check_inputs(X, arm, y, propensity)
        control = arm == 0
        m0 = _classifier(self.params, self.seed).fit(X[control], y[control])
        self.effects, self.weights = [], []
        for k in range(1, self.n_treat + 1):
            treated = arm == k
            mk = _classifier(self.params, self.seed).fit(X[treated], y[treated])
            tau1 = _regressor(self.params, self.seed).fit(X[treated], y[treated] - _p1(m0, X[treated]))
            tau0 = _regressor(self.params, self.seed).fit(X[control], _p1(mk, X[control]) - y[control])
            self.effects.append((tau0, tau1))
            # g = P(arm k | arm in {0, k}): weight tau0 by g, tau1 by 1 - g
            self.weights.append(propensity[k] / (propensity[k] + propensity[0]))
        return self

    def predict(self, X):
        return np.column_stack([
            g * tau0.predict(X) + (1 - g) * tau1.predict(X)
            for (tau0, tau1), g in zip(self.effects, self.weights)
        ])


@dataclass
class ClassTransformation:
    """Jaskowski & Jaroszewicz (2012): Z = 1 for treated responders and control non-responders;
    with treated and control reweighted to equal mass, uplift = 2 P(Z=1 | x) - 1."""

    params: dict = field(default_factory=dict)
    seed: int = 0
    name: str = "class_transformation"

    def fit(self, X, arm, y, propensity):
        self.n_treat = check_inputs(X, arm, y, propensity)
        self.models = []
        for k in range(1, self.n_treat + 1):
            rows, t = _pair(arm, k)
            z = (t == y[rows]).astype(int)
            share = propensity[k] / (propensity[k] + propensity[0])
            weight = np.where(t == 1, 0.5 / share, 0.5 / (1 - share))
            model = _classifier(self.params, self.seed).fit(X[rows], z, sample_weight=weight)
            self.models.append(model)
        return self

    def predict(self, X):
        return np.column_stack([2 * _p1(m, X) - 1 for m in self.models])


@dataclass
class ResponseModel:
    """Baseline, not an uplift model: P(y | x) on everyone, ignoring the arm ("propensity
    targeting"). Its score is repeated for every arm so it ranks like the others."""

    params: dict = field(default_factory=dict)
    seed: int = 0
    name: str = "response_model"

    def fit(self, X, arm, y, propensity):
        self.n_treat = check_inputs(X, arm, y, propensity)
        self.model = _classifier(self.params, self.seed).fit(X, y)
        return self

    def predict(self, X):
        return np.repeat(_p1(self.model, X)[:, None], self.n_treat, axis=1)
