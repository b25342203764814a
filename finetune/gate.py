"""The promotion gate: a candidate replaces the serving model only if it is not worse beyond
the bootstrap interval on the same held-out window.

Paired bootstrap: the units of the window (users, rows) are resampled together, so both models
are scored on the same draws and the interval is that of the *difference*. ``paired_interval``
is the one implementation; ``metric_gate`` applies it to any statistic of the resampled units
where higher is better (mean NDCG@10 over users for recommenders, the Qini coefficient for
uplift), ``behaviour_gate`` to AUC and ECE. A candidate is refused when the whole interval of
(candidate - serving) lies below ``-margin`` (ECE: above ``margin``). With nothing serving yet,
a behaviour model must beat chance (the lower end of its AUC interval above 0.5); for the other
statistics chance is the reference instead of the serving version (Qini 0, NDCG 0), since an
uplift experiment of a few thousand users rarely shows a real model's Qini above 0 for sure.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import BaseModel
from scipy.stats import rankdata

from finetune import registry
from finetune.behavior.metrics import expected_calibration_error
from knowledge.settings import Settings

Statistic = Callable[[np.ndarray], float]  # the metric of the units at these (drawn) indices


class GateVerdict(BaseModel):
    promote: bool
    reason: str
    rows: int
    candidate: dict[str, float]
    serving: dict[str, float] | None = None
    auc_diff_ci: list[float] | None = None
    ece_diff_ci: list[float] | None = None
    diff_ci: list[float] | None = None


def fast_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC from ranks (ties count half), the Mann-Whitney statistic."""
    positives = y == 1
    n1, n0 = int(positives.sum()), int((~positives).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def draws(n: int, n_boot: int, seed: int) -> list[np.ndarray]:
    """n_boot resamples (with replacement) of n unit indices."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, n) for _ in range(n_boot)]


def paired_interval(samples: list[np.ndarray], candidate: Statistic,
                    serving: Statistic | None, level: float) -> list[float]:
    """The interval of candidate - serving (or of candidate alone) over the same resamples;
    a draw where a statistic is undefined (NaN) is left out."""
    values = [candidate(i) - (serving(i) if serving is not None else 0.0) for i in samples]
    tail = (1 - level) / 2 * 100
    return [float(np.nanpercentile(values, tail)), float(np.nanpercentile(values, 100 - tail))]


def metric_gate(metric: str, n: int, candidate: Statistic, serving: Statistic | None,
                n_boot: int = 1000, level: float = 0.95, margin: float = 0.0, floor: float = 0.0,
                seed: int = 0) -> GateVerdict:
    """Gate on one higher-is-better statistic of n units: refused when the whole interval of
    candidate - serving lies below -margin. With nothing serving the reference is ``floor``
    (chance: random targeting's Qini 0), so a first version is refused only when it is surely
    worse than chance."""
    if n == 0:
        return GateVerdict(promote=serving is None, rows=0, candidate={}, reason=(
            f"no held-out units to measure {metric} on: " + (
                "first version, passed" if serving is None else "refused, nothing to judge on")))
    every = np.arange(n)
    cand = {metric: candidate(every)}
    serv = None if serving is None else {metric: serving(every)}
    ci = paired_interval(draws(n, n_boot, seed), candidate,
                         serving if serving is not None else (lambda i: floor), level)
    worse = ci[1] < -margin
    against = f"chance {floor:g}" if serv is None else f"serving {serv[metric]:.3f}"
    summary = (f"candidate {metric} {cand[metric]:.3f} vs {against} on {n:,} units, "
               f"difference interval [{ci[0]:+.3f}, {ci[1]:+.3f}]")
    return GateVerdict(
        promote=not worse, rows=n, candidate=cand, serving=serv, diff_ci=ci,
        reason=("first version " if serv is None else "")
        + (f"refused: {metric} worse beyond the {level:.0%} interval" if worse else
           f"passed: not worse beyond the {level:.0%} interval") + f" ({summary})")


def bootstrap_options(settings: Settings) -> dict:
    """metric_gate's resampling options from the settings (gate_bootstrap, gate_level, seed)."""
    return {"n_boot": settings.gate_bootstrap, "level": settings.gate_level,
            "seed": settings.seed}


def behaviour_gate(y: np.ndarray, candidate: np.ndarray, serving: np.ndarray | None,
                   n_boot: int = 1000, level: float = 0.95, auc_margin: float = 0.0,
                   ece_margin: float = 0.0, seed: int = 0) -> GateVerdict:
    """Compare calibrated probabilities of a candidate and the serving model on one window."""
    y, candidate = np.asarray(y, float), np.asarray(candidate, float)
    samples = draws(len(y), n_boot, seed)
    cand = {"auc": fast_auc(y, candidate), "ece": expected_calibration_error(y, candidate)}

    def auc(p: np.ndarray) -> Statistic:
        return lambda i: fast_auc(y[i], p[i])

    def ece(p: np.ndarray) -> Statistic:
        return lambda i: expected_calibration_error(y[i], p[i])

    if serving is None:
        lo, hi = paired_interval(samples, auc(candidate), None, level)
        ok = lo > 0.5
        return GateVerdict(
            promote=ok, rows=len(y), candidate=cand,
            reason=(f"first version: AUC {cand['auc']:.3f} [{lo:.3f}, {hi:.3f}] "
                    + ("beats chance" if ok else "does not beat chance (0.5)")))
    serving = np.asarray(serving, float)
    serv = {"auc": fast_auc(y, serving), "ece": expected_calibration_error(y, serving)}
    auc_ci = paired_interval(samples, auc(candidate), auc(serving), level)
    ece_ci = paired_interval(samples, ece(candidate), ece(serving), level)
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


def settle(settings: Settings, slot: str, version: str, verdicts: list[GateVerdict],
           note: str = "") -> bool:
    """Promote the candidate when every verdict passes, else keep it a candidate; either way
    its registry note says why. Returns whether it was promoted."""
    promote = all(v.promote for v in verdicts)
    note = "; ".join([note] * bool(note) + [f"gate {v.reason}" for v in verdicts])
    if promote:
        registry.promote(settings, slot, version, note=note)
    else:
        registry.set_note(settings, slot, version, note)
    return promote
