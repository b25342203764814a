"""Drift on the synthetic shop, from a known day: is it flagged, does `retrain` fix it, does the
gate refuse a broken model? `python bench/drift_simulation.py [--every 1] [--users 3000]`.

Two shops from the same seed, in a temporary folder (the project's warehouse and artifacts are
never touched): the *drift* shop, in which a category takes off on `--start` (extra sessions
for the customers who like it, churned ones included: knowledge/synthetic/drift.py), and the
*control* shop without it. Both have the same events up to the start. In each:

1. The shop as it was on `--trained` (events before that day only): `retrain` (its behaviour
   stage) trains, gates
   and promotes the first versions; purchase within 30 days is the task followed here.
2. Every `--every` days from `--trained` to `--start` + `--watch` days, the shop as of that
   day goes through `shopmind drift` (`run_drift`): PSI and KS of every feature between the
   served model's training cutoffs and the users of that day. A feature is *aging* when the
   control run flags it on the training day itself (the training window is 90-150 days old
   on that day: tenure and the recency columns move with time, docs/models.md); an *alarm* is
   a flag on any other feature. The drift is detected on the first alarm on or after the
   start; every alarm before the start, or in the control run, is a false alarm.
3. The whole history (to `--end`): `retrain` again (the data changed), which gates the
   validation winner against the model serving since step 1 on the newest labelled window
   (the 30 days before the end, all after the start) and promotes it if it passes. The old
   model's and that winner's AUC on the window (promoted or not), with percentile bootstrap
   intervals, and the paired interval of the difference (same resamples).
4. A candidate trained on shuffled training labels (the same splits otherwise), gated by
   `gate_and_promote` against the serving model: it must be refused.

Writes bench/results/drift_simulation.json and bench/results/drift_simulation.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from finetune import registry
from finetune.behavior.artifacts import ModelMeta
from finetune.behavior.data import Split, TaskSpec, load_task
from finetune.behavior.drift_cli import run_drift
from finetune.behavior.promotion import gate_and_promote, served_probability
from finetune.behavior.train import DEFAULT_MODELS, _test_features, train_one
from finetune.gate import fast_auc
from finetune.retrain import retrain
from knowledge import warehouse
from knowledge.features import build_features
from knowledge.importers.base import replace_table
from knowledge.settings import Settings
from knowledge.synthetic.drift import Drift
from knowledge.synthetic.shop import generate

TASK = TaskSpec(event="purchase", horizon_days=30)


@dataclasses.dataclass
class Plan:
    users: int = 3000
    products: int = 400
    days: int = 730  # two years: the training cutoffs' 180-day windows are full (a younger
    # shop's window features drift as its history fills up, and would raise false alarms)
    end: date = date(2026, 10, 31)  # last day of history
    seed: int = 42
    category: str = "home decor"
    rate: float = 0.8  # extra sessions per day for affinity 1 (knowledge/synthetic/drift.py)
    checkout: float = 1.0  # carts holding the category are checked out (a price cut)
    start: date = date(2026, 7, 1)  # first day of the drift
    trained: date = date(2026, 6, 15)  # the first model sees the events before this day
    watch: int = 21  # days checked after the start
    every: int = 2  # days between drift checks
    bootstrap: int = 500

    def settings(self, root: Path) -> Settings:
        return Settings(warehouse_dir=root / "data", artifacts_dir=root / "artifacts",
                        shop="synthetic", seed=self.seed, synthetic_users=self.users,
                        synthetic_products=self.products, synthetic_days=self.days,
                        synthetic_end=f"{self.end:%Y-%m-%d}", gate_bootstrap=self.bootstrap)

    @property
    def drift(self) -> Drift:
        return Drift(start=self.start, category=self.category, rate=self.rate,
                     checkout=self.checkout)

    @property
    def check_days(self) -> list[date]:
        last = self.start + timedelta(days=self.watch)
        return [self.trained + timedelta(days=k)
                for k in range(0, (last - self.trained).days + 1, self.every)]


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def build(settings: Settings, drift: Drift | None) -> None:
    """The shop's warehouse, with every event also kept in `events_all` for `as_of`."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    try:
        warehouse.create_schema(con)
        for name, frame in generate(settings, drift).tables.items():
            replace_table(con, name, frame)
        con.execute("CREATE TABLE events_all AS SELECT * FROM events")
    finally:
        con.close()


def as_of(settings: Settings, day: date) -> None:
    """The shop as it was at midnight starting `day`: only the events before it."""
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute("DELETE FROM events")
        con.execute("INSERT INTO events SELECT * FROM events_all WHERE ts < ?", [midnight(day)])
    finally:
        con.close()


SLOT = registry.behavior_slot("synthetic", TASK.name)


def loaded(settings: Settings, version: registry.Version) -> tuple[Path, ModelMeta]:
    folder = registry.artifact_folder(settings, version)
    return folder, ModelMeta.model_validate_json((folder / "meta.json").read_text())


def serving(settings: Settings) -> tuple[Path, ModelMeta]:
    return loaded(settings, registry.load(settings).slot(SLOT).serving)


def newest_winner(settings: Settings, before: set[str]) -> registry.Version:
    """The validation winner of the last retrain (the version the gate wrote its verdict on),
    promoted or not."""
    return [v for v in registry.load(settings).slot(SLOT).versions
            if v.version not in before and v.note][-1]


def check(settings: Settings, day: date) -> dict:
    """`shopmind drift` on the shop as of `day`: every feature's PSI, the flags."""
    as_of(settings, day)
    report = run_drift(settings, [TASK.name])[0]
    return {"day": f"{day:%Y-%m-%d}", "psi": {f.feature: round(f.psi, 4) for f in report.features},
            "ks": {f.feature: round(f.ks, 4) for f in report.features},
            "flagged": report.flagged, "label_rate_newest": report.label_rate_newest,
            "label_shift_flagged": report.label_shift_flagged,
            "realised_auc": report.realised_auc}


def bootstrap_auc(y: np.ndarray, p: np.ndarray, draws: list[np.ndarray]) -> dict:
    values = [fast_auc(y[i], p[i]) for i in draws]
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return {"auc": round(fast_auc(y, p), 4), "ci95": [round(float(lo), 4), round(float(hi), 4)]}


def compare_on_newest_window(settings: Settings, old: tuple[Path, ModelMeta],
                             new: tuple[Path, ModelMeta], n_boot: int, seed: int) -> dict:
    """Both models, calibrated as served, on the test window of the final retrain."""
    con = warehouse.connect(settings.warehouse)
    try:
        data = load_task(con, TASK)
        cutoff = datetime.strptime(data.cutoffs["test"][0], "%Y-%m-%d")
        users = list(data.test.features.index)
        y = data.test.labels

        def scores(model: tuple[Path, ModelMeta]) -> np.ndarray:
            features = build_features(con, cutoff, users=users, categories=model[1].categories)
            return served_probability(model[0], features.reindex(users))

        p_old, p_new = scores(old), scores(new)
    finally:
        con.close()
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(n_boot)]
    diff = [fast_auc(y[i], p_new[i]) - fast_auc(y[i], p_old[i]) for i in draws]
    return {"window": f"{cutoff:%Y-%m-%d} + {TASK.horizon_days} d", "rows": len(y),
            "base_rate": round(float(y.mean()), 4),
            "old": {"version": old[1].version, "trained_to": old[1].data_end,
                    **bootstrap_auc(y, p_old, draws)},
            "new": {"version": new[1].version, "trained_to": new[1].data_end,
                    **bootstrap_auc(y, p_new, draws)},
            "diff_ci95": [round(float(v), 4) for v in np.nanpercentile(diff, [2.5, 97.5])]}


def broken_candidate(settings: Settings, seed: int) -> dict:
    """Every default model trained on shuffled training labels, gated against the serving one."""
    con = warehouse.connect(settings.warehouse)
    try:
        data = load_task(con, TASK)
        data_end = con.execute("SELECT max(ts) FROM events").fetchone()[0]
    finally:
        con.close()
    shuffled = np.random.default_rng(seed).permutation(data.train.labels)
    broken = dataclasses.replace(data, train=Split(data.train.features, shuffled,
                                                   data.train.cutoffs))
    trained = [train_one(settings, "synthetic", broken, name, data_end) for name in DEFAULT_MODELS]
    before = serving(settings)[1].version
    result = gate_and_promote(settings, "synthetic", broken, trained,
                              _test_features(settings, "synthetic", broken))
    return {"winner": result.winner, "promoted": result.promoted,
            "reason": result.verdict.reason, "serving_before": before,
            "serving_after": serving(settings)[1].version}


def monitor(plan: Plan, settings: Settings, drifted: bool) -> dict:
    """Steps 1 and 2: the first model, then the drift checks."""
    build(settings, plan.drift if drifted else None)
    as_of(settings, plan.trained)
    first = retrain(settings, stages=("behavior",))
    return {"first_retrain": first, "first_model": serving(settings)[1].version,
            "checks": [check(settings, day) for day in plan.check_days]}


def run_shop(plan: Plan, root: Path, drifted: bool) -> dict:
    settings = plan.settings(root)
    started = time.perf_counter()
    out = monitor(plan, settings, drifted)
    old = serving(settings)
    before = {v.version for v in registry.load(settings).slot(SLOT).versions}
    as_of(settings, plan.end + timedelta(days=1))
    second = retrain(settings, stages=("behavior",))
    winner = newest_winner(settings, before)
    out |= {"final_retrain": second, "promoted": winner.status == "serving",
            "gate_note": winner.note,
            "newest_window": compare_on_newest_window(settings, old, loaded(settings, winner),
                                                      plan.bootstrap, plan.seed)}
    if drifted:
        out["shuffled_label_candidate"] = broken_candidate(settings, plan.seed)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def detection(plan: Plan, drift: dict, control: dict) -> dict:
    """Aging features (flagged by the control run on the training day), first alarm, false
    alarms."""
    aging = sorted(control["checks"][0]["flagged"])
    start = f"{plan.start:%Y-%m-%d}"

    def alarms(checks: list[dict]) -> list[tuple[str, list[str]]]:
        return [(c["day"], [f for f in c["flagged"] if f not in aging]) for c in checks]

    after = [(d, f) for d, f in alarms(drift["checks"]) if d >= start and f]
    first = after[0] if after else None
    drifted = sorted({f for _, fs in after for f in fs})
    shifts = [c["day"] for c in drift["checks"] if c["label_shift_flagged"]]
    return {
        "first_label_shift_day": next((d for d in shifts if d >= start), None),
        "label_shift_before_start": [d for d in shifts if d < start],
        "label_shift_control": [c["day"] for c in control["checks"] if c["label_shift_flagged"]],
        "aging_features": aging,
        "first_alarm_day": first[0] if first else None,
        "days_after_start": (date.fromisoformat(first[0]) - plan.start).days if first else None,
        "first_alarm_features": first[1] if first else [],
        "drifted_features": drifted,
        "false_alarms_before_start": [(d, f) for d, f in alarms(drift["checks"]) if d < start and f],
        "false_alarms_control": [(d, f) for d, f in alarms(control["checks"]) if f],
        "aging_flags_control": sorted({f for c in control["checks"] for f in c["flagged"]}),
    }


def plot(plan: Plan, result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    checks = result["drift"]["checks"]
    features = sorted(result["detection"]["drifted_features"],
                      key=lambda f: -max(c["psi"][f] for c in checks))[:5]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, feature in enumerate(features):
        color = f"C{i}"
        for run, style in (("drift", "-"), ("control", "--")):
            checks = result[run]["checks"]
            days = [date.fromisoformat(c["day"]) for c in checks]
            ax.plot(days, [c["psi"][feature] for c in checks], style, color=color,
                    label=feature if run == "drift" else None)
    ax.axhline(result["psi_threshold"], color="grey", lw=0.8)
    ax.axvline(plan.start, color="black", lw=0.8, ls=":")
    ax.text(plan.start, ax.get_ylim()[1] * 0.95, " drift starts", va="top")
    ax.set_ylabel("PSI against the training cutoffs")
    ax.set_title(f"{plan.category} takes off on {plan.start}: drift (solid) vs control (dashed)")
    ax.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(plan: Plan, result: dict) -> None:
    det = result["detection"]
    print(f"drift: {plan.category} takes off on {plan.start} (rate {plan.rate}); first model "
          f"trained to {plan.trained}; checks every {plan.every} day(s) to +{plan.watch} days")
    print(f"aging features (flagged by the control run on the training day): "
          f"{', '.join(det['aging_features']) or 'none'}")
    print(f"first alarm: {det['first_alarm_day']} (+{det['days_after_start']} days): "
          f"{', '.join(det['first_alarm_features'])}")
    print(f"false alarms: {len(det['false_alarms_before_start'])} days before the start, "
          f"{len(det['false_alarms_control'])} days in the control run")
    print(f"label-rate shift first flagged: {det['first_label_shift_day']}; before the start: "
          f"{len(det['label_shift_before_start'])} days, control: "
          f"{len(det['label_shift_control'])} days")
    print(f"{'run':8} {'old AUC [95%]':>24} {'retrained AUC [95%]':>24} {'diff [95%]':>18} promoted")
    for run in ("drift", "control"):
        w = result[run]["newest_window"]
        o, n = w["old"], w["new"]
        print(f"{run:8} {o['auc']:.3f} [{o['ci95'][0]:.3f}, {o['ci95'][1]:.3f}]"
              f"{'':6} {n['auc']:.3f} [{n['ci95'][0]:.3f}, {n['ci95'][1]:.3f}]{'':6} "
              f"[{w['diff_ci95'][0]:+.3f}, {w['diff_ci95'][1]:+.3f}] {result[run]['promoted']}")
    broken = result["drift"]["shuffled_label_candidate"]
    print(f"shuffled-label candidate: {'PROMOTED' if broken['promoted'] else 'refused'}: "
          f"{broken['reason']}")


def simulate(plan: Plan, root: Path) -> dict:
    drift = run_shop(plan, root / "drift", drifted=True)
    control = run_shop(plan, root / "control", drifted=False)
    result = {"plan": {k: str(v) if isinstance(v, date) else v
                       for k, v in dataclasses.asdict(plan).items()},
              "psi_threshold": plan.settings(root).drift_psi_threshold,
              "drift": drift, "control": control}
    result["detection"] = detection(plan, drift, control)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    types = {"int": int, "float": float, "str": str, "date": date.fromisoformat}
    for field in dataclasses.fields(Plan):
        parser.add_argument(f"--{field.name}", type=types[field.type], default=field.default)
    plan = Plan(**vars(parser.parse_args()))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="drift_simulation_") as tmp:
        result = simulate(plan, Path(tmp))
    result["seconds"] = round(time.perf_counter() - started, 1)
    print_table(plan, result)
    out = REPO / "bench" / "results"
    plot(plan, result, out / "drift_simulation.png")
    from bench.common import write_results

    write_results(out / "drift_simulation.json", "drift_simulation", **result)


if __name__ == "__main__":
    main()
