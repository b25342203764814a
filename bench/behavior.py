"""Behaviour prediction, every model side by side: `python bench/behavior.py [--bootstrap 500]`.

Tasks (temporal: features before the cutoff, labels in the H days after it):
- Online Retail, purchase within 30 days, test cutoff 2011-11-09 (population: every customer
  with a purchase before it); churn = no purchase within 90 days, test cutoff 2011-09-10 (the
  last one whose 90-day window the data covers).
- Taobao UserBehavior head (test day 2017-12-03): per user, buys anything on the next day; per
  (user, item) viewed/carted/saved in the last 3 days, buys it the next day (click-to-buy); per
  (user, category) touched in the last 3 days, views it again the next day (click). "Views
  anything the next day" per user is left out: 95% of these users do, nothing to rank.
Tabular models (RFM heuristic, logistic regression on log RFM + tenure, LightGBM) are trained
here (median time of --repeats fits). Encoder rows come from the newest `encoder-*` artifacts of
the same task and cutoffs (`shopmind train behavior --model encoder-head --model encoder-full`,
the costly part, run beforehand); they were tested on a random sample of the test users, so
every model is also scored on exactly those rows, with a LightGBM + encoder blend whose weight
is chosen on the encoder's validation rows. Metrics: ROC-AUC, PR-AUC, log loss, Brier, ECE with
bootstrap 95% intervals, paired bootstrap AUC difference against logistic regression,
reliability plots (PNG). Tool timings: single-user `predict_behavior` latency p50/p99 (warm)
and population scoring throughput. Writes bench/results/behavior.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results
from finetune.behavior.artifacts import list_versions
from finetune.behavior.data import Split, TaskData, TaskSpec, load_task
from finetune.behavior.metrics import (
    bootstrap_ci,
    expected_calibration_error,
    reliability,
    scores,
)
from finetune.behavior.tabular import TABULAR_MODELS, logit
from finetune.behavior.train import train_one
from knowledge import warehouse
from knowledge.pairs import pair_frame
from knowledge.settings import Settings, load_settings

RESULTS = REPO / "bench" / "results"
console = Console()


@dataclass(frozen=True)
class BenchTask:
    shop: str
    spec: TaskSpec
    title: str
    churn: bool = False  # score 1 - P(purchase) against "no purchase"


TASKS = [
    BenchTask("online_retail", TaskSpec(horizon_days=30, test_cutoff=datetime(2011, 11, 9)),
              "Online Retail: purchase within 30 days"),
    BenchTask("online_retail", TaskSpec(horizon_days=90, test_cutoff=datetime(2011, 9, 10)),
              "Online Retail: churn (no purchase within 90 days)", churn=True),
    BenchTask("taobao", TaskSpec(horizon_days=1, test_cutoff=datetime(2017, 12, 3), step_days=1),
              "Taobao: buys on the next day"),
]


def evaluate(y: np.ndarray, p: np.ndarray, base: np.ndarray, n_boot: int) -> dict:
    """Metrics, their bootstrap intervals, and the paired AUC gain over `base` predictions."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    gains = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        if y[idx].min() != y[idx].max():
            gains.append(roc_auc_score(y[idx], p[idx]) - roc_auc_score(y[idx], base[idx]))
    return {**scores(y, p), "ece": expected_calibration_error(y, p),
            "ci95": bootstrap_ci(y, p, n_boot), "auc_gain_vs_baseline": float(np.mean(gains)),
            "auc_gain_ci95": [float(np.percentile(gains, 2.5)), float(np.percentile(gains, 97.5))],
            "reliability": reliability(y, p)}


def fit_tabular(data: TaskData, repeats: int, names: list[str]) -> tuple[dict, dict, dict]:
    """(models, val and test predictions, seconds); times are medians over `repeats` fits."""
    models, val, test, seconds = {}, {}, {}, {}
    for name in names:
        cls = TABULAR_MODELS[name]
        times = []
        for _ in range(repeats):
            model = cls()
            started = time.perf_counter()
            model.fit(data.train, data.val)
            times.append(time.perf_counter() - started)
        models[name], seconds[name] = model, statistics.median(times)
        val[name] = model.predict(data.val.features)
        test[name] = model.predict(data.test.features)
    return models, {"val": val, "test": test}, seconds


def encoder_runs(settings: Settings, task: BenchTask, data: TaskData) -> dict[str, pd.DataFrame]:
    """Newest predictions of each encoder mode trained on exactly these cutoffs."""
    runs = {}
    for folder, meta in list_versions(settings, task.shop, task.spec.name):
        if meta.model.startswith("encoder") and meta.cutoffs == data.cutoffs:
            runs[meta.model] = (pd.read_parquet(folder / "predictions.parquet"), meta)
    return runs


def _keyed(split, preds: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame(preds)
    frame["user_id"], frame["cutoff"] = split.features.index.to_numpy(), split.cutoffs
    frame["label"] = split.labels
    return frame


def encoder_comparison(task: BenchTask, data: TaskData, preds: dict, runs: dict,
                       n_boot: int) -> dict:
    """Every model on the encoder's sampled test rows, plus a blend tuned on its val rows."""
    keyed = {s: _keyed(getattr(data, s), preds[s]) for s in ("val", "test")}
    out: dict = {}
    for name, (frame, meta) in runs.items():
        for split in ("val", "test"):
            rows = frame[frame["split"] == split][["user_id", "cutoff", "probability"]]
            keyed[split] = keyed[split].merge(rows.rename(columns={"probability": name}),
                                              on=["user_id", "cutoff"], how="left")
        out.setdefault("encoder_meta", {})[name] = {
            "version": meta.version, "train_seconds": meta.train_seconds, "params": meta.params,
            "rows": meta.rows}
    best = "encoder-full" if "encoder-full" in runs else next(iter(runs))
    val = keyed["val"].dropna(subset=[best])
    weights = np.linspace(0, 1, 11)
    from sklearn.metrics import roc_auc_score

    val_auc = [roc_auc_score(val["label"], _blend(val, best, w)) for w in weights]
    w = float(weights[int(np.argmax(val_auc))])
    test = keyed["test"].dropna(subset=[best]).copy()
    test["blend"] = _blend(test, best, w)
    y = test["label"].to_numpy()
    if task.churn:
        y = 1 - y
    models = [*TABULAR_MODELS, *runs, "blend"]
    out["blend"] = {"encoder": best, "lightgbm_weight": w, "val_auc_by_weight": dict(
        zip([round(x, 1) for x in weights], map(float, val_auc)))}
    out["rows"] = len(test)
    out["models"] = {m: evaluate(y, _flip(test[m].to_numpy(), task), _flip(
        test["logreg"].to_numpy(), task), n_boot) for m in models}
    return out


def _blend(frame: pd.DataFrame, encoder: str, w: float) -> np.ndarray:
    z = w * logit(frame["lightgbm"].to_numpy()) + (1 - w) * logit(frame[encoder].to_numpy())
    return 1 / (1 + np.exp(-z))


def _flip(p: np.ndarray, task: BenchTask) -> np.ndarray:
    return 1 - p if task.churn else p


def tool_timings(settings: Settings, task: BenchTask, data: TaskData, users: int = 200) -> dict:
    """predict_behavior latency per user (warm) and population scoring throughput."""
    from tools import behavior

    with tempfile.TemporaryDirectory() as tmp:
        served = settings.model_copy(update={"artifacts_dir": Path(tmp), "shop": task.shop})
        end = warehouse.connect(served.warehouse).execute("SELECT max(ts) FROM events").fetchone()[0]
        train_one(served, task.shop, data, "lightgbm", end)
        started = time.perf_counter()
        population = behavior.population_scores(served, "purchase", task.spec.horizon_days)
        cold = time.perf_counter() - started
        ids = np.random.default_rng(0).choice(population["user_id"], users, replace=False)
        behavior.predict(served, ids[0], horizon_days=task.spec.horizon_days)  # warm-up
        latencies = []
        for user in ids:
            started = time.perf_counter()
            behavior.predict(served, str(user), horizon_days=task.spec.horizon_days)
            latencies.append((time.perf_counter() - started) * 1000)
    return {"users_timed": users, "latency_ms_p50": float(np.percentile(latencies, 50)),
            "latency_ms_p99": float(np.percentile(latencies, 99)),
            "population_users": len(population), "population_seconds_cold": cold,
            "population_users_per_second": len(population) / cold}


def plot_reliability(name: str, title: str, models: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for model, result in models.items():
        curve = result["reliability"]
        ax.plot([c["mean_predicted"] for c in curve], [c["observed"] for c in curve], marker="o",
                label=f"{model} (ECE {result['ece']:.3f})")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    console.print(f"wrote {path}")


def run_task(settings: Settings, task: BenchTask, n_boot: int, repeats: int) -> dict:
    con = warehouse.connect(settings.warehouse_for(task.shop))
    try:
        data = load_task(con, task.spec)
    finally:
        con.close()
    _, preds, seconds = fit_tabular(data, repeats, list(TABULAR_MODELS))
    y = 1 - data.test.labels if task.churn else data.test.labels
    base = _flip(preds["test"]["logreg"], task)
    result = {
        "title": task.title, "shop": task.shop, "task": task.spec.name, "cutoffs": data.cutoffs,
        "baseline": "logreg",
        "rows": {s: len(getattr(data, s)) for s in ("train", "val", "test")},
        "test_base_rate": float(y.mean()),
        "models": {m: {**evaluate(y, _flip(p, task), base, n_boot),
                       "train_seconds_median": seconds[m]} for m, p in preds["test"].items()},
    }
    slug = f"{task.shop}_{task.spec.name}{'_churn' if task.churn else ''}"
    plot_reliability(slug, task.title + " (full test)", result["models"],
                     RESULTS / f"behavior_{slug}_reliability.png")
    runs = encoder_runs(settings, task, data)
    if runs:
        result["encoder_sample"] = encoder_comparison(task, data, preds, runs, n_boot)
        plot_reliability(slug, task.title + " (encoder's test sample)",
                         result["encoder_sample"]["models"],
                         RESULTS / f"behavior_{slug}_encoder_reliability.png")
    if task.spec.name == "purchase_30d" and not task.churn:
        result["tool"] = tool_timings(settings, task, data)
    return result


PAIR_TASKS = [("product_id", ("Taobao click-to-buy: buys an item viewed/carted/saved in the "
                              "last 3 days on the next day")),
              ("category", ("Taobao category click: views a category touched in the last 3 "
                            "days again on the next day"))]
PAIR_TEST = datetime(2017, 12, 3)


def _pair_split(con, cutoffs: list[datetime], key: str) -> Split:
    frames = [pair_frame(con, c, key).assign(_cutoff=np.datetime64(c)) for c in cutoffs]
    frame = pd.concat(frames)
    return Split(frame.drop(columns=["label", "_cutoff"]), frame["label"].to_numpy(),
                 frame["_cutoff"].to_numpy())


def run_pair_task(settings: Settings, key: str, title: str, n_boot: int, repeats: int) -> dict:
    """Taobao pair tasks: 4 daily training cutoffs, validation the day before the test day."""
    day = pd.Timedelta(days=1)
    cutoffs = {"train": [PAIR_TEST - day * k for k in range(5, 1, -1)], "val": [PAIR_TEST - day],
               "test": [PAIR_TEST]}
    con = warehouse.connect(settings.warehouse_for("taobao"))
    try:
        splits = {s: _pair_split(con, c, key) for s, c in cutoffs.items()}
    finally:
        con.close()
    data = TaskData(TaskSpec(horizon_days=1), splits["train"], splits["val"], splits["test"], [],
                    {s: [f"{c:%Y-%m-%d}" for c in v] for s, v in cutoffs.items()})
    _, preds, seconds = fit_tabular(data, repeats, ["logreg-all", "lightgbm"])
    y, base = data.test.labels, preds["test"]["logreg-all"]
    result = {"title": title, "shop": "taobao", "task": f"pairs_{key}_1d",
              "cutoffs": data.cutoffs, "baseline": "logreg-all",
              "rows": {s: len(splits[s]) for s in splits}, "test_base_rate": float(y.mean()),
              "models": {m: {**evaluate(y, p, base, n_boot), "train_seconds_median": seconds[m]}
                         for m, p in preds["test"].items()}}
    plot_reliability(key, title, result["models"],
                     RESULTS / f"behavior_taobao_pairs_{key}_reliability.png")
    return result


def print_table(result: dict, models: dict, rows: int) -> None:
    table = Table("model", "ROC-AUC [95% CI]", "PR-AUC", "log loss", "Brier", "ECE",
                  "AUC gain vs baseline [95% CI]", title=f"{result['title']} ({rows:,} test rows)")
    for name, m in models.items():
        lo, hi = m["ci95"]["roc_auc"]
        glo, ghi = m["auc_gain_ci95"]
        table.add_row(name, f"{m['roc_auc']:.3f} [{lo:.3f}, {hi:.3f}]", f"{m['pr_auc']:.3f}",
                      f"{m['log_loss']:.3f}", f"{m['brier']:.3f}", f"{m['ece']:.3f}",
                      f"{m['auc_gain_vs_baseline']:+.3f} [{glo:+.3f}, {ghi:+.3f}]")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3, help="fits per tabular model (timing)")
    parser.add_argument("--shops", nargs="*", default=["online_retail", "taobao"])
    parser.add_argument("--only", help="run only tasks whose title contains this; the others "
                        "keep their results from the last run")
    args = parser.parse_args()
    settings = load_settings()
    results = []
    for task in [t for t in TASKS if t.shop in args.shops and (args.only or "") in t.title]:
        if not settings.warehouse_for(task.shop).is_file():
            from knowledge.cli import import_source

            import_source(settings, task.shop, into=settings.warehouse_for(task.shop))
        console.print(f"[bold]{task.title}[/]")
        result = run_task(settings, task, args.bootstrap, args.repeats)
        print_table(result, result["models"], result["rows"]["test"])
        if "encoder_sample" in result:
            sample = result["encoder_sample"]
            print_table(result, sample["models"], sample["rows"])
        results.append(result)
    if "taobao" in args.shops:
        for key, title in [(k, t) for k, t in PAIR_TASKS if (args.only or "") in t]:
            console.print(f"[bold]{title}[/]")
            result = run_pair_task(settings, key, title, args.bootstrap, args.repeats)
            print_table(result, result["models"], result["rows"]["test"])
            results.append(result)
    path = RESULTS / "behavior.json"
    if args.only and path.is_file():
        fresh = {r["title"] for r in results}
        kept = [r for r in json.loads(path.read_text())["tasks"] if r["title"] not in fresh]
        order = [t.title for t in TASKS] + [t for _, t in PAIR_TASKS]
        results = sorted(kept + results, key=lambda r: order.index(r["title"]))
    write_results(path, "behavior", bootstrap=args.bootstrap, tasks=results)


if __name__ == "__main__":
    main()
