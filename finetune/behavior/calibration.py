"""Calibration of behaviour probabilities: a monotone map from a model's raw score to a
probability, fitted on the validation window and stored beside the model.

Three candidates: ``identity`` (the raw score is already calibrated), ``platt`` (a logistic
regression on the logit of the score) and ``isotonic`` (scikit-learn's isotonic regression).
The method is chosen on the validation window by K-fold cross-validated log loss (fit on K-1
folds, score the held-out fold), so the choice is not made on the rows it was fitted on; the
chosen method is then refitted on the whole window. scikit-learn's ``CalibratedClassifierCV``
wraps an estimator and refits it per fold; here the model is already fitted (with early
stopping on the same window), so only its scores are mapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import joblib
import numpy as np
from pydantic import BaseModel, Field
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from finetune.behavior.metrics import EPS, expected_calibration_error

Method = Literal["identity", "platt", "isotonic"]
METHODS: tuple[Method, ...] = ("identity", "platt", "isotonic")
FILE = "calibrator.joblib"


class CalibrationReport(BaseModel):
    """How the method was chosen: cross-validated log loss and ECE of each on validation."""

    method: Method
    folds: int
    cv_log_loss: dict[str, float] = Field(description="per method, mean over the folds")
    cv_ece: dict[str, float] = Field(description="per method, ECE of the out-of-fold scores")
    val_rows: int


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


class Calibrator:
    """A fitted map raw score -> calibrated probability (pickled with joblib)."""

    def __init__(self, method: Method = "identity"):
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}; choose from "
                             f"{', '.join(METHODS)}")
        self.method = method
        self._fitted = None

    def fit(self, p: np.ndarray, y: np.ndarray) -> Calibrator:
        p, y = np.asarray(p, float), np.asarray(y, float)
        if self.method == "platt":
            self._fitted = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p)[:, None], y)
        elif self.method == "isotonic":
            self._fitted = IsotonicRegression(y_min=EPS, y_max=1 - EPS,
                                              out_of_bounds="clip").fit(p, y)
        return self

    def __call__(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, float)
        if self.method == "platt":
            return self._fitted.predict_proba(_logit(p)[:, None])[:, 1]
        if self.method == "isotonic":
            return self._fitted.predict(p)
        return p

    def save(self, folder: Path) -> Path:
        path = Path(folder) / FILE
        joblib.dump(self, path)
        return path

    @staticmethod
    def load(folder: Path) -> Calibrator:
        """The folder's calibrator; ``identity`` for a model saved before calibration existed."""
        path = Path(folder) / FILE
        return joblib.load(path) if path.is_file() else Calibrator("identity")


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def choose_calibrator(p: np.ndarray, y: np.ndarray, folds: int = 5,
                      seed: int = 0) -> tuple[Calibrator, CalibrationReport]:
    """The method with the lowest K-fold log loss on (p, y), refitted on all of it."""
    p, y = np.asarray(p, float), np.asarray(y, float)
    folds = max(2, min(folds, int(min(y.sum(), len(y) - y.sum()))))
    which = np.random.default_rng(seed).permutation(len(y)) % folds
    losses: dict[str, float] = {}
    ece: dict[str, float] = {}
    for method in METHODS:
        out = np.empty(len(y))
        fold_losses = []
        for k in range(folds):
            held = which == k
            out[held] = Calibrator(method).fit(p[~held], y[~held])(p[held])
            fold_losses.append(_log_loss(y[held], out[held]))
        losses[method] = float(np.mean(fold_losses))
        ece[method] = expected_calibration_error(y, out)
    best = min(METHODS, key=lambda m: losses[m])
    report = CalibrationReport(method=best, folds=folds, cv_log_loss=losses, cv_ece=ece,
                               val_rows=len(y))
    return Calibrator(best).fit(p, y), report
