"""Monthly retraining with the promotion gate, against a model frozen at the start:
`python bench/lifecycle.py [--shops online_retail synthetic]`.

Online Retail: the first served model sees data to 2011-09-10 only (test cutoff 2011-08-11, its
labels end at 2011-09-10); then every month (2011-10-10, 2011-11-09) a candidate is trained on
the data to that day exactly as `shopmind retrain` does (every tabular model, the validation
winner, calibrated on validation) and gated against the serving one on the newest labelled
window (the 30 days before the day). At each month's day both the frozen model and the served
one (after the gate) score every customer; their AUC and ECE are measured on what happens in
the next 30 days, which no model saw. At the last month a candidate trained on shuffled labels
is gated too: the gate must refuse it. Synthetic shop: the same over its last three months.
Writes bench/results/lifecycle.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results
from finetune.behavior.calibration import Calibrator, choose_calibrator
from finetune.behavior.data import Split, TaskData, TaskSpec, load_task
from finetune.behavior.metrics import expected_calibration_error
from finetune.behavior.selection import pick_on_validation
from finetune.behavior.tabular import TABULAR_MODELS
from finetune.behavior.train import DEFAULT_MODELS
from finetune.gate import behaviour_gate, fast_auc
from knowledge import warehouse
from knowledge.features import build_features
from knowledge.labels import labels_after
from knowledge.settings import load_settings

H = 30
DAYS = {"online_retail": [datetime(2011, 9, 10), datetime(2011, 10, 10), datetime(2011, 11, 9)],
        "synthetic": [datetime(2026, 8, 2), datetime(2026, 9, 1), datetime(2026, 10, 1)]}
console = Console()


@dataclasses.dataclass
class Served:
    name: str
    model: object
    calibrator: Calibrator
    categories: list[str]
    trained_to: str

    def predict(self, con, cutoff: datetime, users: list[str]) -> np.ndarray:
        features = build_features(con, cutoff, users=users, categories=self.categories)
        return self.calibrator(self.model.predict(features.reindex(users)))


def train_served(data: TaskData, to: datetime) -> Served:
    """Every default model, the validation winner, its calibrator (what retrain serves)."""
    models = {}
    for name in DEFAULT_MODELS:
        models[name] = TABULAR_MODELS[name]()
        models[name].fit(data.train, data.val)
    val = {n: m.predict(data.val.features) for n, m in models.items()}
    name = pick_on_validation({n: fast_auc(data.val.labels, p) for n, p in val.items()})
    calibrator, _ = choose_calibrator(val[name], data.val.labels)
    return Served(name, models[name], calibrator, data.categories, f"{to:%Y-%m-%d}")


def _test_cutoff(data: TaskData) -> datetime:
    return datetime.strptime(data.cutoffs["test"][0], "%Y-%m-%d")


def _score(y: np.ndarray, p: np.ndarray) -> dict:
    return {"auc": fast_auc(y, p), "ece": expected_calibration_error(y, p)}


def run_shop(settings, shop: str, n_boot: int) -> dict:
    con = warehouse.connect(settings.warehouse_for(shop))
    try:
        days = DAYS[shop]

        def task(day: datetime) -> TaskData:
            """Splits from the data to `day` only: the test labels end at `day`."""
            return load_task(con, TaskSpec(horizon_days=H, test_cutoff=day - timedelta(days=H)))

        frozen = serving = train_served(task(days[0]), days[0])
        months = []
        for day in days:
            gate = None
            if day != days[0]:
                data = task(day)
                candidate = train_served(data, day)
                users, cutoff = list(data.test.features.index), _test_cutoff(data)
                gate = behaviour_gate(data.test.labels, candidate.predict(con, cutoff, users),
                                      serving.predict(con, cutoff, users), n_boot=n_boot)
                if gate.promote:
                    serving = candidate
            users = list(build_features(con, day).index)
            y = labels_after(con, day, H, users).to_numpy()
            months.append({
                "day": f"{day:%Y-%m-%d}", "users": len(users), "base_rate": float(y.mean()),
                "frozen": {"model": frozen.name, "trained_to": frozen.trained_to,
                           **_score(y, frozen.predict(con, day, users))},
                "retrained": {"model": serving.name, "trained_to": serving.trained_to,
                              **_score(y, serving.predict(con, day, users))},
                "gate": gate.model_dump() if gate else None})
        data = task(days[-1])
        labels = np.random.default_rng(0).permutation(data.train.labels)
        broken = train_served(dataclasses.replace(data, train=Split(
            data.train.features, labels, data.train.cutoffs)), days[-1])
        users = list(data.test.features.index)
        cutoff = _test_cutoff(data)
        refusal = behaviour_gate(data.test.labels, broken.predict(con, cutoff, users),
                                 serving.predict(con, cutoff, users), n_boot=n_boot)
    finally:
        con.close()
    return {"shop": shop, "horizon_days": H, "months": months,
            "shuffled_label_candidate": refusal.model_dump()}


def print_table(result: dict) -> None:
    table = Table("day", "users", "base rate", "frozen AUC / ECE", "retrained AUC / ECE",
                  "served (trained to)", "gate", title=f"{result['shop']}: purchase within "
                  f"{result['horizon_days']} days, monthly")
    for m in result["months"]:
        f, r = m["frozen"], m["retrained"]
        table.add_row(m["day"], f"{m['users']:,}", f"{m['base_rate']:.3f}",
                      f"{f['auc']:.3f} / {f['ece']:.3f}", f"{r['auc']:.3f} / {r['ece']:.3f}",
                      f"{r['model']} ({r['trained_to']})",
                      "-" if m["gate"] is None else m["gate"]["reason"][:60])
    console.print(table)
    console.print(f"shuffled-label candidate: {result['shuffled_label_candidate']['reason']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--shops", nargs="*", default=["online_retail", "synthetic"])
    args = parser.parse_args()
    settings = load_settings()
    results = []
    for shop in args.shops:
        results.append(run_shop(settings, shop, args.bootstrap))
        print_table(results[-1])
    write_results(REPO / "bench" / "results" / "lifecycle.json", "lifecycle",
                  bootstrap=args.bootstrap, shops=results)


if __name__ == "__main__":
    main()
