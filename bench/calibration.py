"""Calibration of the served behaviour models: `python bench/calibration.py [--bootstrap 500]`.

Per task (the shop's default tasks, and the Online Retail and Taobao tasks of
`bench/behavior.py`): fit every tabular model on the training cutoffs, pick the served one by
validation AUC (`finetune.behavior.selection`), fit its calibrator on the validation window
(`finetune.behavior.calibration`: identity, Platt or isotonic, chosen by cross-validated log
loss), then measure on the test window, which neither step saw: ECE (10 equal-width bins) and
log loss before and after, with bootstrap 95% intervals, and AUC; and the ECE the calibrated
scores would have with the test window's base rate known (one logit offset), which shows how
much of what is left is the base rate moving between windows; and the ECE floor, the ECE that
perfectly calibrated scores of the same distribution get from sampling noise alone on a window
this size. Churn is scored as 1 - P(buy)
against "no purchase". Writes bench/results/calibration.json and one reliability plot (before
and after) per task.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.behavior import TASKS, BenchTask, fit_tabular, plot_reliability
from bench.common import write_results
from finetune.behavior.calibration import choose_calibrator
from finetune.behavior.data import TaskSpec, load_task
from finetune.behavior.metrics import expected_calibration_error, reliability, scores
from finetune.behavior.selection import pick_on_validation
from finetune.behavior.tabular import TABULAR_MODELS, logit
from finetune.behavior.train import DEFAULT_TASKS
from knowledge import warehouse
from knowledge.settings import load_settings

RESULTS = REPO / "bench" / "results"
GOAL = 0.03
console = Console()


def shop_tasks(shop: str) -> list[BenchTask]:
    """The default tasks `shopmind up` trains, for `shop` (churn = 1 - purchase within 90 d)."""
    return [BenchTask(shop, spec, f"{shop}: {spec.event} within {spec.horizon_days} days")
            for spec in DEFAULT_TASKS] + [
        BenchTask(shop, TaskSpec(horizon_days=90), f"{shop}: churn (no purchase within 90 days)",
                  churn=True)]


def _ci(y: np.ndarray, p: np.ndarray, n_boot: int) -> list[float]:
    rng = np.random.default_rng(0)
    draws = [expected_calibration_error(y[i], p[i])
             for i in (rng.integers(0, len(y), len(y)) for _ in range(n_boot))]
    return [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]


def _measure(y: np.ndarray, p: np.ndarray, n_boot: int) -> dict:
    return {**scores(y, p), "ece_ci95": _ci(y, p, n_boot), "reliability": reliability(y, p)}


def shifted_to(p: np.ndarray, rate: float) -> np.ndarray:
    """`p` with one logit offset so that its mean is `rate` (bisection): what calibration could
    reach had it known the test window's base rate, to separate base-rate shift from the rest."""
    z = logit(p)
    lo, hi = -10.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (1 / (1 + np.exp(-(z + mid)))).mean() < rate else (lo, mid)
    return 1 / (1 + np.exp(-(z + (lo + hi) / 2)))


def em_prior_shift(p: np.ndarray, prior: float, iterations: int = 200) -> np.ndarray:
    """`p` (calibrated at base rate `prior`) adapted to the unlabelled window it scores by EM
    (Saerens et al., 2002): the usual label-shift correction, which needs no test labels."""
    target = prior
    for _ in range(iterations):
        up, down = target / prior, (1 - target) / (1 - prior)
        adapted = up * p / (up * p + down * (1 - p))
        if abs(adapted.mean() - target) < 1e-7:
            break
        target = float(adapted.mean())
    return adapted


def ece_floor(p: np.ndarray, draws: int = 200) -> float:
    """Mean ECE of `p` against labels drawn from `p` itself: what a perfectly calibrated model
    scores on a window of this size, i.e. the part of a measured ECE that is sampling noise."""
    rng = np.random.default_rng(0)
    return float(np.mean([expected_calibration_error(rng.random(len(p)) < p, p)
                          for _ in range(draws)]))


def run_task(settings, task: BenchTask, n_boot: int) -> dict:
    con = warehouse.connect(settings.warehouse_for(task.shop))
    try:
        data = load_task(con, task.spec)
    finally:
        con.close()
    _, preds, _ = fit_tabular(data, 1, list(TABULAR_MODELS))
    flip = (lambda p: 1 - p) if task.churn else (lambda p: p)
    y_val = data.val.labels
    y_test = 1 - data.test.labels if task.churn else data.test.labels
    val_auc = {m: scores(y_val, p)["roc_auc"] for m, p in preds["val"].items()}
    served = pick_on_validation(val_auc)
    models = {}
    for name in TABULAR_MODELS:
        calibrator, report = choose_calibrator(preds["val"][name], y_val)
        before = _measure(y_test, flip(preds["test"][name]), n_boot)
        after = _measure(y_test, flip(calibrator(preds["test"][name])), n_boot)
        oracle = expected_calibration_error(y_test, shifted_to(flip(calibrator(
            preds["test"][name])), float(y_test.mean())))
        em = expected_calibration_error(y_test, flip(em_prior_shift(
            calibrator(preds["test"][name]), float(y_val.mean()))))
        models[name] = {"val_auc": val_auc[name], "calibration": report.model_dump(),
                        "before": before, "after": after, "ece_if_test_base_rate_known": oracle,
                        "ece_em_prior_shift": em,
                        "ece_floor": ece_floor(flip(calibrator(preds["test"][name])))}
    result = {"title": task.title, "shop": task.shop, "task": task.spec.name,
              "churn": task.churn, "cutoffs": data.cutoffs,
              "rows": {s: len(getattr(data, s)) for s in ("train", "val", "test")},
              "val_base_rate": float((1 - y_val if task.churn else y_val).mean()),
              "test_base_rate": float(y_test.mean()), "served": served, "models": models}
    slug = f"{task.shop}_{task.spec.name}{'_churn' if task.churn else ''}"
    chosen = models[served]
    plot_reliability(slug, f"{task.title}: served {served}, test window", {
        "before": chosen["before"],
        f"after ({chosen['calibration']['method']})": chosen["after"]},
        RESULTS / f"calibration_{slug}.png")
    return result


def print_table(results: list[dict]) -> None:
    table = Table("task", "served (val AUC)", "method", "test AUC", "ECE before [95% CI]",
                  "ECE after [95% CI]", "ECE, test base rate known", "ECE floor", "log loss before -> after",
                  "base rate val -> test",
                  f"<= {GOAL}", title="Calibration on the test window")
    for r in results:
        m = r["models"][r["served"]]
        b, a = m["before"], m["after"]
        table.add_row(r["title"], f"{r['served']} ({m['val_auc']:.3f})",
                      m["calibration"]["method"], f"{a['roc_auc']:.3f}",
                      f"{b['ece']:.3f} [{b['ece_ci95'][0]:.3f}, {b['ece_ci95'][1]:.3f}]",
                      f"{a['ece']:.3f} [{a['ece_ci95'][0]:.3f}, {a['ece_ci95'][1]:.3f}]",
                      f"{m['ece_if_test_base_rate_known']:.3f}", f"{m['ece_floor']:.3f}",
                      f"{b['log_loss']:.3f} -> {a['log_loss']:.3f}",
                      f"{r['val_base_rate']:.3f} -> {r['test_base_rate']:.3f}",
                      "yes" if a["ece"] <= GOAL else "no")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--shops", nargs="*", default=["synthetic", "online_retail", "taobao"])
    args = parser.parse_args()
    settings = load_settings()
    tasks = shop_tasks("synthetic") if "synthetic" in args.shops else []
    tasks += [t for t in TASKS if t.shop in args.shops]
    results = []
    for task in tasks:
        console.print(f"[bold]{task.title}[/]")
        results.append(run_task(settings, task, args.bootstrap))
    print_table(results)
    write_results(RESULTS / "calibration.json", "calibration", bootstrap=args.bootstrap,
                  goal_ece=GOAL, tasks=results)


if __name__ == "__main__":
    main()
