"""Uplift benchmark: `python bench/uplift.py [--seeds 5] [--synthetic-users 20000] [--parts ...]`.

Hillstrom (women's e-mail vs no e-mail, the comparison the literature reports; also any e-mail
vs none), outcomes visit and conversion: repeated 70/30 splits stratified by treatment x outcome (one per seed); every
model fit on the 70% and scored on the 30% with our metrics (same definitions as scikit-uplift:
Qini AUC, AUUC, uplift@10/20/30% next to the ATE that random targeting achieves). Models: ours
(S/T/X-learners, class transformation, uplift forest, the response-model baseline), CausalML
0.18 (S/T/X on the same LightGBM settings, its uplift random forest with defaults) and
scikit-uplift 0.5.1 (SoloModel, TwoModels, ClassTransformation on the same LightGBM), plus
random scores. Qini curves of the first seed go to PNG. Multi-arm: our models on all three
arms at once, per-arm Qini AUC and uplift@30%.

Synthetic shop (its campaign stores the true effect of the arm each user drew): a larger shop
is generated once (--synthetic-users), our multi-arm models are fit per seed, and we report
correlation and PEHE against the true effects of held-out treated users, and the realised
incremental conversions (true effects summed) of the profit policy versus random targeting
and versus propensity (response-model) targeting at equal budget, with the oracle as a ceiling.

Writes bench/results/uplift.json and bench/results/uplift_qini_*.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.model_selection import train_test_split
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results
from finetune.uplift.data import Experiment, FeatureSpec, load_experiment
from finetune.uplift.learners import LGBM_DEFAULTS
from finetune.uplift.metrics import evaluate, qini_curve
from finetune.uplift.models import build, leaf_size
from finetune.uplift.policy import make_plan
from finetune.uplift.train import default_economics, per_arm_metrics, true_effect_metrics
from knowledge.settings import Settings, load_settings

RESULTS = REPO / "bench" / "results"
PARTS = ("hillstrom", "hillstrom_any_email", "hillstrom_multiarm", "synthetic")
OURS = ["s_learner", "t_learner", "x_learner", "class_transformation", "uplift_forest",
        "ensemble", "response_model"]
KS = (0.1, 0.2, 0.3)
METRICS = ["qini_auc", "auuc", "uplift_at_10", "uplift_at_20", "uplift_at_30"]
console = Console()

# A candidate fits on (X, t, y) and returns scores for X_test; t is 0/1.
Candidate = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def ours(name: str) -> Candidate:
    def run(X, t, y, X_test, seed):
        p = t.mean()
        model = build(name, leaf_size(len(y)), seed=seed).fit(X, t, y, np.array([1 - p, p]))
        return model.predict(X_test)[:, 0]
    return run


def _lgbm(seed: int, regressor: bool = False):
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMRegressor if regressor else LGBMClassifier
    return cls(**{**LGBM_DEFAULTS, "random_state": seed})


def causalml_meta(kind: str) -> Candidate:
    def run(X, t, y, X_test, seed):
        from causalml.inference.meta import BaseSClassifier, BaseTClassifier, BaseXClassifier

        if kind == "x":
            model = BaseXClassifier(outcome_learner=_lgbm(seed),
                                    effect_learner=_lgbm(seed, regressor=True))
            p = np.full(len(y), t.mean())
            model.fit(X, t, y, p=p)
            return model.predict(X_test, p=np.full(len(X_test), t.mean()), verbose=False)[:, 0]
        model = (BaseSClassifier if kind == "s" else BaseTClassifier)(learner=_lgbm(seed))
        model.fit(X, t, y)
        return model.predict(X_test, verbose=False)[:, 0]
    return run


def causalml_urf(X, t, y, X_test, seed):
    from causalml.inference.tree import UpliftRandomForestClassifier

    model = UpliftRandomForestClassifier(control_name="control", random_state=seed, n_jobs=1)
    model.fit(X, np.where(t == 1, "treatment", "control"), y)
    return np.asarray(model.predict(X_test)).reshape(len(X_test), -1)[:, 0]


def sklift_model(kind: str) -> Candidate:
    def run(X, t, y, X_test, seed):
        from sklift.models import ClassTransformation, SoloModel, TwoModels

        if kind == "solo":
            model = SoloModel(estimator=_lgbm(seed))
        elif kind == "two":
            model = TwoModels(estimator_trmnt=_lgbm(seed), estimator_ctrl=_lgbm(seed),
                              method="vanilla")
        else:
            model = ClassTransformation(estimator=_lgbm(seed))
        model.fit(X, y, t)
        return np.asarray(model.predict(X_test))
    return run


def random_scores(X, t, y, X_test, seed):
    return np.random.default_rng(seed).random(len(X_test))


CANDIDATES: dict[str, Candidate] = {
    **{f"ours:{name}": ours(name) for name in OURS},
    "causalml:s_learner": causalml_meta("s"),
    "causalml:t_learner": causalml_meta("t"),
    "causalml:x_learner": causalml_meta("x"),
    "causalml:uplift_random_forest": causalml_urf,
    "sklift:solo_model": sklift_model("solo"),
    "sklift:two_models": sklift_model("two"),
    "sklift:class_transformation": sklift_model("ct"),
    "random": random_scores,
}


def summarise(runs: list[dict[str, float | None]]) -> dict[str, dict[str, float]]:
    """Mean, standard deviation, min and max of each metric over seeds."""
    out = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r[key] is not None]
        if values:
            out[key] = {"mean": statistics.fmean(values),
                        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                        "min": min(values), "max": max(values), "n": len(values)}
    return out


def hillstrom_experiment(settings: Settings) -> Experiment:
    path = settings.warehouse_for("hillstrom")
    if not path.is_file():
        from knowledge.cli import import_source

        import_source(settings, "hillstrom", into=path)
    return load_experiment(path, "hillstrom_2008")


def hillstrom(settings: Settings, seeds: list[int], models: list[str], save, key: str,
              treated: tuple[str, ...]) -> dict:
    """Binary comparison: the `treated` e-mail arm(s) against no e-mail."""
    exp = hillstrom_experiment(settings)
    arms = exp.campaign.arms
    treated_index = [arms.index(a) for a in treated]
    rows = np.isin(exp.arm, [arms.index("no_email"), *treated_index])
    X = FeatureSpec.fit(exp.covariates).transform(exp.covariates)[rows]
    t = np.isin(exp.arm[rows], treated_index).astype(int)
    label = f"{' or '.join(treated)} vs no_email"
    out = {"comparison": label, "users": int(rows.sum()), "outcomes": {}}
    for outcome in ("visit", "conversion"):
        y = exp.outcome(outcome)[rows]
        per_model: dict[str, list] = {m: [] for m in models}
        seconds: dict[str, list] = {m: [] for m in models}
        curves = {}
        progress = tqdm(total=len(seeds) * len(models), desc=f"{key} {outcome}")
        for seed in seeds:
            train, test = train_test_split(np.arange(len(y)), test_size=0.3,
                                           stratify=t * 2 + y, random_state=seed)
            for name in models:
                progress.set_postfix_str(f"seed {seed} {name}")
                progress.update()
                started = time.perf_counter()
                score = CANDIDATES[name](X[train], t[train], y[train], X[test], seed)
                seconds[name].append(time.perf_counter() - started)
                per_model[name].append(evaluate(y[test], score, t[test], KS))
                if seed == seeds[0]:
                    curves[name] = qini_curve(y[test], score, t[test])
        out["outcomes"][outcome] = {
            "ate_mean": statistics.fmean(r["ate"] for r in per_model[models[0]]),
            "models": {m: {**summarise(per_model[m]),
                           "fit_predict_seconds_median": statistics.median(seconds[m])}
                       for m in models},
            "per_seed": {m: per_model[m] for m in models},
        }
        plot_qini(curves, f"Hillstrom {label}, {outcome} (seed {seeds[0]})",
                  RESULTS / f"uplift_qini_{key}_{outcome}.png")
        save(**{key: out})  # a partial result survives an interrupted run
    return out


def hillstrom_multiarm(settings: Settings, seeds: list[int]) -> dict:
    """Our models on all three arms at once: per-arm metrics, and how often the arm each model
    picks per user is right on average (the held-out uplift of users routed to each arm)."""
    exp = hillstrom_experiment(settings)
    X = FeatureSpec.fit(exp.covariates).transform(exp.covariates)
    models = [m for m in OURS if m != "response_model"]
    out = {"arms": exp.campaign.arms, "outcomes": {}}
    for outcome in ("visit", "conversion"):
        y = exp.outcome(outcome)
        runs: dict[str, list] = {m: [] for m in models}
        for seed in tqdm(seeds, desc=f"multi-arm {outcome}"):
            train, test = train_test_split(np.arange(len(y)), test_size=0.3,
                                           stratify=exp.arm * 2 + y, random_state=seed)
            for name in models:
                model = build(name, leaf_size(len(train)), seed=seed)
                uplift = model.fit(X[train], exp.arm[train], y[train], exp.propensity).predict(X[test])
                metrics = per_arm_metrics(exp, test, uplift, outcome)
                runs[name].append({f"{arm}_{k}": v for arm, m in metrics.items()
                                   for k, v in m.items() if k in ("qini_auc", "uplift_at_30")})
        out["outcomes"][outcome] = {m: summarise(runs[m]) for m in models}
    return out


def plot_qini(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name, (x, v) in curves.items():
        style = "--" if name.startswith(("causalml", "sklift")) else "-"
        ax.plot(x / x[-1], v, style, label=name, linewidth=1.2)
    x, v = next(iter(curves.values()))
    ax.plot([0, 1], [0, v[-1]], ":", color="black", label="random (diagonal)")
    ax.set_xlabel("share of users targeted (highest score first)")
    ax.set_ylabel("incremental responders (Qini)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def synthetic_experiment(settings: Settings, users: int) -> Experiment:
    shop = settings.model_copy(update={"synthetic_users": users})
    path = settings.warehouse_dir / f"bench_synthetic_{users}.duckdb"
    if not path.is_file():
        from knowledge.cli import import_source

        with console.status(f"generating a synthetic shop of {users:,} users ..."):
            import_source(shop, "synthetic", into=path)
    return load_experiment(path)


def all_true_effects(exp: Experiment, rows: np.ndarray) -> np.ndarray:
    """(n, K) true effect of every treatment arm for these users, from the generator's formula
    (before its clip to [-p0, 1 - p0], which the stored per-user values include; the clip only
    touches users whose baseline probability is below their negative effect)."""
    from knowledge.synthetic.campaign import true_effect

    effects = true_effect(exp.covariates.iloc[rows].reset_index(drop=True))
    return np.column_stack([effects[a] for a in exp.campaign.arms[1:]])


def realised(effects: np.ndarray, rows: np.ndarray, arm: np.ndarray) -> float:
    return float(effects[rows, arm - 1].sum()) if len(rows) else 0.0


def best_average_arm(exp: Experiment, train: np.ndarray, economics) -> int:
    """The arm with the highest profit at its training-split ATE: what one would send everyone."""
    y, arm = exp.outcome("conversion")[train], exp.arm[train]
    ates = np.array([y[arm == k].mean() - y[arm == 0].mean()
                     for k in range(1, len(exp.campaign.arms))])
    return int((ates * economics.margin - np.asarray(economics.contact_cost)).argmax()) + 1


def policy_comparison(exp, test, uplift, response, economics, fixed_arm, seed) -> list[dict]:
    """Realised incremental conversions at equal budget: our profit policy, random targeting and
    propensity targeting (top predicted P(conversion)), both of these with `fixed_arm`, and the
    oracle policy on the true effects."""
    truth = all_true_effects(exp, test)
    costs = np.asarray(economics.contact_cost)
    rng = np.random.default_rng(seed)
    out = []
    for share in (0.05, 0.1, 0.2, 0.4):
        budget = share * len(test) * costs[fixed_arm - 1]
        n_fixed = int(share * len(test))
        plan = make_plan(uplift, economics, budget)
        oracle = make_plan(truth, economics, budget)
        random_rows = rng.choice(len(test), n_fixed, replace=False)
        top_response = np.argsort(-response)[:n_fixed]
        fixed = np.full(len(test), fixed_arm)
        out.append({
            "budget": round(budget, 2), "budget_share": share, "fixed_arm": exp.campaign.arms[fixed_arm],
            "policy": realised(truth, plan.rows, plan.column + 1), "policy_users": len(plan.rows),
            "random": realised(truth, random_rows, fixed[random_rows]),
            "propensity": realised(truth, top_response, fixed[top_response]),
            "fixed_arm_users": n_fixed,
            "oracle": realised(truth, oracle.rows, oracle.column + 1),
        })
    return out


def synthetic(settings: Settings, seeds: list[int], users: int) -> dict:
    exp = synthetic_experiment(settings, users)
    spec = FeatureSpec.fit(exp.covariates)
    X, y = spec.transform(exp.covariates), exp.outcome("conversion")
    economics = default_economics(exp, 0.3, None)
    models = [m for m in OURS if m != "response_model"]
    truth_runs: dict[str, list] = {m: [] for m in models}
    policy_runs: dict[str, list] = {m: [] for m in models}
    for seed in tqdm(seeds, desc="synthetic"):
        train, test = train_test_split(np.arange(len(y)), test_size=0.3,
                                       stratify=exp.arm * 2 + y, random_state=seed)
        leaf = leaf_size(len(train))
        response = build("response_model", leaf, seed=seed)
        response = response.fit(X[train], exp.arm[train], y[train], exp.propensity)
        p_convert = response.predict(X[test])[:, 0]
        fixed_arm = best_average_arm(exp, train, economics)
        for name in models:
            model = build(name, leaf, seed=seed)
            uplift = model.fit(X[train], exp.arm[train], y[train], exp.propensity).predict(X[test])
            metrics = true_effect_metrics(exp, test, uplift)
            truth_runs[name].append({f"{arm}_{k}": v for arm, m in metrics.items()
                                     for k, v in m.items() if k != "users"})
            policy_runs[name].append(
                policy_comparison(exp, test, uplift, p_convert, economics, fixed_arm, seed))
    return {
        "users_in_campaign": len(y), "arms": exp.campaign.arms,
        "economics": economics.model_dump(),
        "true_effect": {m: summarise(truth_runs[m]) for m in models},
        "policy": {m: _policy_summary(policy_runs[m]) for m in models},
    }


def _policy_summary(runs: list[list[dict]]) -> list[dict]:
    """Per budget: mean over seeds of realised incremental conversions per strategy."""
    out = []
    for i, first in enumerate(runs[0]):
        row = {k: first[k] for k in ("budget_share", "fixed_arm")}
        for key in ("policy", "random", "propensity", "oracle", "policy_users", "fixed_arm_users",
                    "budget"):
            values = [r[i][key] for r in runs]
            row[key] = {"mean": statistics.fmean(values),
                        "std": statistics.stdev(values) if len(values) > 1 else 0.0}
        out.append(row)
    return out


def print_hillstrom(result: dict) -> None:
    for outcome, block in result["outcomes"].items():
        table = Table("model", *METRICS, "s", title=f"Hillstrom {result['comparison']}, {outcome} "
                      f"(ATE {block['ate_mean']:.4f}), mean ± sd over seeds")
        for name, m in sorted(block["models"].items(), key=lambda kv: -kv[1]["qini_auc"]["mean"]):
            table.add_row(name, *(f"{m[k]['mean']:.4f} ± {m[k]['std']:.4f}" if k in m else "-"
                                  for k in METRICS), f"{m['fit_predict_seconds_median']:.1f}")
        console.print(table)


def print_synthetic(result: dict) -> None:
    table = Table("model", *[f"{a}_{k}" for a in result["arms"][1:] for k in ("corr", "pehe")],
                  title="Synthetic shop: held-out treated users vs their true effect")
    for name, m in result["true_effect"].items():
        table.add_row(name, *(f"{m[k]['mean']:.3f} ± {m[k]['std']:.3f}" if k in m else "-"
                              for k in [f"{a}_{s}" for a in result["arms"][1:]
                                        for s in ("corr", "pehe")]))
    console.print(table)
    for name, rows in result["policy"].items():
        table = Table("budget share", "policy", "random", "propensity", "oracle",
                      title=f"realised incremental conversions, {name} policy")
        for r in rows:
            table.add_row(f"{r['budget_share']:.0%}", *(f"{r[k]['mean']:.1f}" for k in
                                                        ("policy", "random", "propensity", "oracle")))
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--synthetic-users", type=int, default=20000)
    parser.add_argument("--models", default=",".join(CANDIDATES),
                        help="comma-separated Hillstrom candidates")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated: "
                        + ", ".join(PARTS) + " (a part not run keeps its previous result)")
    parser.add_argument("--out", type=Path, default=RESULTS / "uplift.json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    settings = load_settings()
    seeds = list(range(args.seeds))
    path = args.out
    out = json.loads(path.read_text()) if path.is_file() else {}
    out = {k: v for k, v in out.items() if k in PARTS}

    def save(**parts) -> None:
        out.update(parts)
        write_results(path, "uplift", seeds=seeds, lightgbm=LGBM_DEFAULTS, **out)

    parts = args.parts.split(",")
    models = args.models.split(",")
    if "hillstrom" in parts:
        print_hillstrom(hillstrom(settings, seeds, models, save, "hillstrom", ("womens_email",)))
    if "hillstrom_any_email" in parts:
        print_hillstrom(hillstrom(settings, seeds, models, save, "hillstrom_any_email",
                                  ("mens_email", "womens_email")))
    if "hillstrom_multiarm" in parts:
        save(hillstrom_multiarm=hillstrom_multiarm(settings, seeds))
    if "synthetic" in parts:
        result = synthetic(settings, seeds, args.synthetic_users)
        save(synthetic=result)
        print_synthetic(result)


if __name__ == "__main__":
    main()
