"""Classification metrics with bootstrap intervals, and reliability (calibration) curves."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

EPS = 1e-6
METRICS = {
    "roc_auc": roc_auc_score,
    "pr_auc": average_precision_score,
    "log_loss": lambda y, p: log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1]),
    "brier": brier_score_loss,
}


def scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Every metric of METRICS, the ECE, and the size and base rate of the sample."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    out = {name: float(fn(y, p)) for name, fn in METRICS.items()}
    return {**out, "ece": expected_calibration_error(y, p), "n": len(y),
            "base_rate": float(y.mean())}


def bootstrap_ci(y: np.ndarray, p: np.ndarray, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict[str, list[float]]:
    """Percentile intervals of each metric over bootstrap resamples of the rows."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in METRICS}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() == y[idx].max():
            continue
        for name, fn in METRICS.items():
            draws[name].append(fn(y[idx], p[idx]))
    tail = (1 - level) / 2 * 100
    return {name: [float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))]
            for name, v in draws.items()}


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean prediction and observed rate per equal-width probability bin (non-empty bins)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    return [{"mean_predicted": float(p[which == b].mean()), "observed": float(y[which == b].mean()),
             "count": int((which == b).sum())} for b in range(bins) if (which == b).any()]


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    table = reliability(y, p, bins)
    n = sum(row["count"] for row in table)
    return float(sum(row["count"] / n * abs(row["mean_predicted"] - row["observed"])
                     for row in table))
