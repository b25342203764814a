"""The drift simulation (bench/drift_simulation.py) on a tiny shop: `shopmind drift` flags the
drift after the day it starts and never before it, nor in the control shop; the generator's
drift hook leaves the default shop as it was and the drifted shop's history before the start
equal to the control's."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import pandas as pd
import pytest

from bench.drift_simulation import Plan, detection, monitor
from knowledge.settings import Settings
from knowledge.synthetic.drift import Drift
from knowledge.synthetic.shop import generate

SMALL = {"synthetic_users": 300, "synthetic_products": 80, "synthetic_days": 120}


def fingerprint(tables: dict[str, pd.DataFrame]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tables):
        frame = tables[name]
        digest.update(name.encode())
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize(("sizes", "expected"), [
    ({"synthetic_users": 3000, "synthetic_products": 400, "synthetic_days": 365},
     "e2bf4d4b360c9185"),  # the default shop: 246,290 events, 10,137 orders
    (SMALL, "3f79ef758d510a04"),
])
def test_the_shop_without_a_drift_is_the_shop_from_before_the_drift_hook(tmp_path, sizes,
                                                                        expected):
    """Hashes of every table, taken before knowledge/synthetic/drift.py existed (seed 42,
    end 2026-10-31). A numpy or pandas upgrade that changes random draws or hashing would
    change them too."""
    settings = Settings(warehouse_dir=tmp_path, artifacts_dir=tmp_path, seed=42,
                        synthetic_end="2026-10-31", **sizes)
    assert fingerprint(generate(settings).tables) == expected


def test_a_drifted_shop_shares_the_control_history_up_to_the_start(tmp_path):
    settings = Settings(warehouse_dir=tmp_path, artifacts_dir=tmp_path, **SMALL)
    start = datetime(2026, 9, 15)
    control = generate(settings).tables["events"]
    drifted = generate(settings, Drift(start.date(), "home decor", rate=0.5,
                                       checkout=1.0)).tables["events"]
    before = [e[e["ts"] < start].reset_index(drop=True) for e in (control, drifted)]
    pd.testing.assert_frame_equal(*before)
    after = [e[e["ts"] >= start] for e in (control, drifted)]
    assert len(after[1]) > 1.3 * len(after[0])
    share = [(a["category"] == "home decor").mean() for a in after]
    assert share[1] > share[0] + 0.1


def test_an_unknown_drift_category_is_refused(tmp_path):
    settings = Settings(warehouse_dir=tmp_path, artifacts_dir=tmp_path, **SMALL)
    with pytest.raises(ValueError, match="not in the catalogue"):
        generate(settings, Drift(date(2026, 9, 15), "spaceships"))


def test_drift_is_flagged_after_the_start_and_not_before_nor_in_the_control(tmp_path):
    plan = Plan(users=800, products=80, days=420, end=date(2026, 8, 31), rate=1.5,
                trained=date(2026, 6, 10), start=date(2026, 7, 1), watch=14, every=7,
                bootstrap=100)
    runs = {name: monitor(plan, plan.settings(tmp_path / name), drifted=name == "drift")
            for name in ("drift", "control")}
    found = detection(plan, runs["drift"], runs["control"])
    assert "tenure_days" in found["aging_features"]  # flagged on the training day already
    assert found["false_alarms_before_start"] == []
    assert found["false_alarms_control"] == []
    assert found["first_alarm_day"] is not None, runs["drift"]["checks"][-1]["psi"]
    assert 0 <= found["days_after_start"] <= plan.watch
    # the same history until the drift starts: the same reports (up to DuckDB's float sums,
    # whose order may vary between runs)
    before = [c for c in runs["drift"]["checks"] if c["day"] < f"{plan.start}"]
    for drifted, control in zip(before, runs["control"]["checks"]):
        assert drifted["flagged"] == control["flagged"]
        assert drifted["psi"] == pytest.approx(control["psi"], abs=0.01)
