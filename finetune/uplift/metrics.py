"""Uplift evaluation: Qini and uplift curves, their normalised areas, uplift@k and the ATE.

Our own implementation, with the definitions of scikit-uplift 0.5.1 so numbers are comparable
with the literature that uses it (tests check both hand-computed values and sklift's):

- Qini curve at the top n users: Y_t(n) - Y_c(n) * N_t(n) / N_c(n) (incremental responders).
- Uplift curve at the top n users: (Y_t/N_t - Y_c/N_c)(n) * n.
- Qini AUC / AUUC: area between the model's curve and the random diagonal, divided by the same
  area of the perfect curve (1 = perfect ranking, 0 = random).
- uplift@k: response rate of the treated minus that of the control among the top k share of
  all users ("overall" strategy). Compare it with the ATE, which random targeting achieves.

Inputs are binary: ``treatment`` is 1 for the arm being evaluated and 0 for the control.
"""

from __future__ import annotations

import numpy as np


def _as_arrays(y: np.ndarray, uplift: np.ndarray, treatment: np.ndarray):
    y, uplift, treatment = (np.asarray(a, dtype=float) for a in (y, uplift, treatment))
    if not (len(y) == len(uplift) == len(treatment)):
        raise ValueError(
            f"y, uplift and treatment must have the same length, got {len(y)}, {len(uplift)}, "
            f"{len(treatment)}"
        )
    if not (np.isin(treatment, (0, 1)).all() and 0 < treatment.sum() < len(treatment)):
        raise ValueError("treatment must be 0/1 and contain both treated and control rows")
    return y, uplift, treatment


def _cumulative(y, uplift, treatment):
    """Cumulative counts at each distinct score threshold, highest scores first."""
    order = np.argsort(uplift, kind="mergesort")[::-1]
    y, uplift, treatment = y[order], uplift[order], treatment[order]
    cut = np.r_[np.flatnonzero(np.diff(uplift)), len(uplift) - 1]
    n_all = cut + 1.0
    n_t = np.cumsum(treatment)[cut]
    y_t = np.cumsum(y * treatment)[cut]
    y_c = np.cumsum(y * (1 - treatment))[cut]
    return n_all, n_t, y_t, n_all - n_t, y_c


def _start_at_origin(x: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.r_[0.0, x], np.r_[0.0, values]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def qini_curve(y, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """(number of users targeted, incremental responders) at each threshold."""
    n_all, n_t, y_t, n_c, y_c = _cumulative(*_as_arrays(y, uplift, treatment))
    return _start_at_origin(n_all, y_t - y_c * _ratio(n_t, n_c))


def uplift_curve(y, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """(number of users targeted, uplift among them times their number) at each threshold."""
    n_all, n_t, y_t, n_c, y_c = _cumulative(*_as_arrays(y, uplift, treatment))
    return _start_at_origin(n_all, (_ratio(y_t, n_t) - _ratio(y_c, n_c)) * n_all)


def _perfect_qini_scores(y, treatment):
    # treated responders first, control responders last (negative effects included)
    return y * treatment - y * (1 - treatment)


def _perfect_uplift_scores(y, treatment):
    control_responders = np.sum((y == 1) & (treatment == 0))
    treated_non_responders = np.sum((y == 0) & (treatment == 1))
    summand = y if control_responders > treated_non_responders else treatment
    return 2 * (y == treatment) + summand


def _normalised_area(curve, perfect_scores, y, uplift, treatment) -> float:
    y, uplift, treatment = _as_arrays(y, uplift, treatment)
    x, v = curve(y, uplift, treatment)
    xp, vp = curve(y, perfect_scores(y, treatment), treatment)
    diagonal = xp[-1] * vp[-1] / 2
    perfect = np.trapezoid(vp, xp) - diagonal
    if perfect == 0:
        raise ValueError("the perfect curve has no area above random (no response difference)")
    return float((np.trapezoid(v, x) - diagonal) / perfect)


def qini_auc(y, uplift, treatment) -> float:
    """Normalised area under the Qini curve (sklift ``qini_auc_score``, negative_effect=True)."""
    return _normalised_area(qini_curve, _perfect_qini_scores, y, uplift, treatment)


def auuc(y, uplift, treatment) -> float:
    """Normalised area under the uplift curve (sklift ``uplift_auc_score``)."""
    return _normalised_area(uplift_curve, _perfect_uplift_scores, y, uplift, treatment)


def uplift_at_k(y, uplift, treatment, k: float) -> float:
    """Treated minus control response rate among the top ``k`` share of users (0 < k <= 1)."""
    if not 0 < k <= 1:
        raise ValueError(f"k is a share of users and must be in (0, 1], got {k}")
    y, uplift, treatment = _as_arrays(y, uplift, treatment)
    top = np.argsort(uplift, kind="mergesort")[::-1][: int(len(y) * k)]
    y, treatment = y[top], treatment[top]
    if treatment.sum() in (0, len(top)):
        raise ValueError(f"the top {k:.0%} holds no treated or no control user; use a larger k")
    return float(y[treatment == 1].mean() - y[treatment == 0].mean())


def ate(y, treatment) -> float:
    """Average treatment effect in a randomised sample: what random targeting achieves."""
    y, _, treatment = _as_arrays(y, np.zeros(len(y)), treatment)
    return float(y[treatment == 1].mean() - y[treatment == 0].mean())


def evaluate(y, uplift, treatment,
             ks: tuple[float, ...] = (0.1, 0.2, 0.3)) -> dict[str, float | None]:
    """Every metric above in one dict (the bench and the trainer's meta.json use it). A metric
    that a small sample leaves undefined (no control user in the top 10%, no responder) is None."""
    def safe(metric, *args):
        try:
            return metric(y, uplift, treatment, *args)
        except ValueError:
            return None

    out = {"qini_auc": safe(qini_auc), "auuc": safe(auuc), "ate": ate(y, treatment)}
    for k in ks:
        out[f"uplift_at_{round(k * 100)}"] = safe(uplift_at_k, k)
    return out
