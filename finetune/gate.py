"""The promotion gate: a candidate replaces the serving model only if it is not worse beyond
the bootstrap interval on the same labelled window.

Paired bootstrap: the rows of the window are resampled together, so both models are scored on
the same draws and the interval is that of the *difference*. A candidate is refused when the
whole interval of (candidate - serving) AUC lies below ``-auc_margin``, or the whole interval of
(candidate - serving) ECE lies above ``ece_margin``. With nothing serving yet, the candidate must
beat chance: the lower end of its AUC interval must be above 0.5.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel
from scipy.stats import rankdata

from finetune.behavior.metrics import expected_calibration_error


class GateVerdict(BaseModel):
    promote: bool
    reason: str
    rows: int
    candidate: dict[str, float]
    serving: dict[str, float] | None = None
    auc_diff_ci: list[float] | None = None
    ece_diff_ci: list[float] | None = None


def fast_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC from ranks (ties count half), the Mann-Whitney statistic."""
    positives = y == 1
    n1, n0 = int(positives.sum()), int((~positives).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _interval(draws: list[float], level: float) -> list[float]:
    tail = (1 - level) / 2 * 100
    return [float(np.nanpercentile(draws, tail)), float(np.nanpercentile(draws, 100 - tail))]


def behaviour_gate(y: np.ndarray, candidate: np.ndarray, serving: np.ndarray | None,
                   n_boot: int = 1000, level: float = 0.95, auc_margin: float = 0.0,
                   ece_margin: float = 0.0, seed: int = 0) -> GateVerdict:
    """Compare calibrated probabilities of a candidate and the serving model on one window."""
    y, candidate = np.asarray(y, float), np.asarray(candidate, float)
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(n_boot)]
    cand = {"auc": fast_auc(y, candidate), "ece": expected_calibration_error(y, candidate)}
    if serving is None:
        lo, hi = _interval([fast_auc(y[i], candidate[i]) for i in draws], level)
        ok = lo > 0.5
        return GateVerdict(
            promote=ok, rows=len(y), candidate=cand,
            reason=(f"first version: AUC {cand['auc']:.3f} [{lo:.3f}, {hi:.3f}] "
                    + ("beats chance" if ok else "does not beat chance (0.5)")))
    serving = np.asarray(serving, float)
    serv = {"auc": fast_auc(y, serving), "ece": expected_calibration_error(y, serving)}
    auc_ci = _interval([fast_auc(y[i], candidate[i]) - fast_auc(y[i], serving[i])
                        for i in draws], level)
    ece_ci = _interval([expected_calibration_error(y[i], candidate[i])
                        - expected_calibration_error(y[i], serving[i]) for i in draws], level)
    problems = []
    if auc_ci[1] < -auc_margin:
        problems.append(f"AUC worse by {serv['auc'] - cand['auc']:.3f} "
                        f"(difference interval [{auc_ci[0]:+.3f}, {auc_ci[1]:+.3f}])")
    if ece_ci[0] > ece_margin:
        problems.append(f"ECE worse by {cand['ece'] - serv['ece']:.3f} "
                        f"(difference interval [{ece_ci[0]:+.3f}, {ece_ci[1]:+.3f}])")
    summary = (f"candidate AUC {cand['auc']:.3f} ECE {cand['ece']:.3f} vs serving AUC "
               f"{serv['auc']:.3f} ECE {serv['ece']:.3f} on {len(y):,} rows")
    return GateVerdict(
        promote=not problems, rows=len(y), candidate=cand, serving=serv, auc_diff_ci=auc_ci,
        ece_diff_ci=ece_ci,
        reason=("refused: " + "; ".join(problems) if problems else "passed: not worse beyond "
                f"the {level:.0%} interval") + f" ({summary})")
