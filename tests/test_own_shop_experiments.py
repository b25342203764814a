"""The shop's own experiment (assignments + outcomes) becomes a randomised campaign that the
uplift trainer reads like Hillstrom's, with pre-treatment covariates only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from finetune.uplift.data import load_experiment
from knowledge.cli import import_source
from knowledge.importers import DataFileError
from tests.own_shop_files import TX_HEADER, TX_ROWS, tables, write_csv

MAPPING = """currency: GBP
timezone: Europe/London
tables:
  order_lines:
    file: tx.csv
    columns: {ordered_at: timestamp}
  assignments:
    file: assignments.csv
    columns: {customer_id: user, arm: group, assigned_at: sent_at}
    defaults: {campaign_id: spring_mail, channel: email}
    covariates: [age_band]
  outcomes:
    file: outcomes.csv
    columns: {customer_id: user, converted: bought, revenue: spent}
    defaults: {campaign_id: spring_mail}
"""


def write_experiment(folder, n: int = 400, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    users = [f"c{i}" for i in range(1, n + 1)]
    arms = rng.choice(["control", "ten_off_email"], n)
    bought = rng.random(n) < np.where(arms == "control", 0.1, 0.3)
    write_csv(folder / "tx.csv", TX_HEADER, TX_ROWS)
    write_csv(folder / "assignments.csv", ["user", "group", "sent_at", "age_band"],
              [[u, a, "2024-01-20 09:00:00", rng.choice(["18-30", "31-50"])]
               for u, a in zip(users, arms)])
    write_csv(folder / "outcomes.csv", ["user", "bought", "spent"],
              [[u, "yes" if b else "no", f"{30.0 * b:.2f}"] for u, b in zip(users, bought)])
    (folder / "shop.yaml").write_text(MAPPING)


def test_own_experiment_becomes_a_campaign_with_pre_treatment_covariates(tmp_path, settings):
    write_experiment(tmp_path)
    _, report = import_source(settings, "shop", path=tmp_path, into=settings.warehouse)
    assert report.counts["campaign_assignments"]["inserted"] == 400
    exp = load_experiment(settings.warehouse)
    assert exp.campaign.campaign_id == "spring_mail"
    assert exp.campaign.arms == ["control", "ten_off_email"]
    assert exp.campaign.channel == "email"
    assert set(exp.covariates.columns) == {"age_band", "orders_before", "spend_before",
                                           "days_since_last_order"}
    # c1 ordered o1 (12.00, 5 January) before the 20 January assignment; o3 came after it
    row = exp.covariates[exp.user_ids == "c1"].iloc[0]
    assert (row["orders_before"], row["spend_before"], row["days_since_last_order"]) == (1, 12.0, 15)
    assert exp.outcomes["conversion"].mean() > 0


def test_reimporting_the_experiment_changes_nothing(tmp_path, settings):
    write_experiment(tmp_path)
    import_source(settings, "shop", path=tmp_path, into=settings.warehouse)
    before = tables(settings.warehouse)
    _, report = import_source(settings, "shop", path=tmp_path, into=settings.warehouse)
    assert report.counts["campaign_assignments"]["unchanged"] == 400
    assert tables(settings.warehouse) == before


def test_an_assignment_without_outcome_is_rejected(tmp_path, settings):
    write_experiment(tmp_path, n=40)
    lines = (tmp_path / "outcomes.csv").read_text().splitlines()
    (tmp_path / "outcomes.csv").write_text("\n".join(lines[:-1]) + "\n")
    _, report = import_source(settings, "shop", path=tmp_path, into=settings.warehouse)
    assert report.counts["campaign_assignments"]["rejected"] == 1
    rejected = [r for r in report.rejects if r["table"] == "assignments"]
    assert rejected[0]["line"] == 41
    assert "no outcome" in rejected[0]["reason"]


def test_arms_without_a_recognisable_control_are_named(tmp_path, settings):
    write_experiment(tmp_path, n=20)
    text = (tmp_path / "assignments.csv").read_text().replace(",control,", ",plain_email,")
    (tmp_path / "assignments.csv").write_text(text)
    with pytest.raises(DataFileError, match="assignments.csv: campaign spring_mail: cannot tell "
                                            "the control arm among plain_email, ten_off_email"):
        import_source(settings, "shop", path=tmp_path, into=settings.warehouse)


def test_uplift_trains_on_the_imported_experiment(tmp_path, settings):
    from finetune.uplift.train import train_campaign

    write_experiment(tmp_path, n=1500)
    import_source(settings, "shop", path=tmp_path, into=settings.warehouse)
    meta = train_campaign(settings, "own", settings.warehouse, "spring_mail", quick=True)
    assert meta.rows["train"] + meta.rows["test"] == 1500
    assert json.loads(meta.model_dump_json())["campaign"]["arms"] == ["control", "ten_off_email"]


def test_the_plan_exports_as_a_csv_of_user_ids_per_arm(tmp_path, settings):
    import csv

    from typer.testing import CliRunner

    from assistant.cli import app
    from finetune.uplift.train import train_campaign

    write_experiment(tmp_path, n=1500)
    shop = settings.model_copy(update={"shop": "own", "warehouse_path": tmp_path / "own.duckdb"})
    import_source(shop, "shop", path=tmp_path, into=shop.warehouse)
    train_campaign(shop, "own", shop.warehouse, "spring_mail", quick=True, margin_rate=1.0,
                   contact_cost=0.01)
    out = tmp_path / "plan.csv"
    done = CliRunner().invoke(app, ["--set", "shop=own", "--set", f"warehouse_path={shop.warehouse}",
                                    "--set", f"artifacts_dir={shop.artifacts_dir}", "segment",
                                    "plan", "--out", str(out), "--max-users", "100"])
    assert done.exit_code == 0, done.output
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert 0 < len(rows) <= 100
    assert {r["arm"] for r in rows} == {"ten_off_email"}
    assert {r["campaign"] for r in rows} == {"spring_mail"}
    assert f"wrote {len(rows):,} users to {out}: spring_mail:ten_off_email {len(rows):,}" \
        in " ".join(done.output.split())
