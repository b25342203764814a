"""Every predict_behavior answer is logged with its model version; `shopmind drift` scores the
served model on the logged answers whose outcome window has closed, and says so when none has."""

from __future__ import annotations

import threading
from datetime import datetime

import duckdb
import pytest

from finetune.behavior import prediction_log
from finetune.behavior.drift_cli import run_drift, summary_row
from finetune.gate import fast_auc
from knowledge.labels import labels_after
from tests.trained_shop import trained_purchase_shop
from tools.behavior import population_scores, predict, served_model

ASKED = datetime(2026, 9, 15)  # + 30 days closes before the small shop's last day, 2026-10-31


@pytest.fixture(scope="module")
def shop(small_shop, tmp_path_factory):
    return trained_purchase_shop(small_shop, tmp_path_factory.mktemp("prediction_log"))


@pytest.fixture(autouse=True)
def empty_log(shop):
    prediction_log.log_path(shop).unlink(missing_ok=True)


def logged(shop, user: str, probability: float, version: str, asked: datetime = ASKED
           ) -> prediction_log.ServedPrediction:
    return prediction_log.ServedPrediction(user_id=user, event="purchase", task="purchase_30d",
                                           horizon_days=30, version=version,
                                           probability=probability, ts=asked)


def test_each_answer_is_logged_with_user_task_version_probability_and_time(shop):
    user = population_scores(shop)["user_id"].iloc[0]
    started = prediction_log.now_utc()
    answer = predict(shop, user, "churn", 30)  # 1 - P(purchase within 30 days)
    [entry] = prediction_log.read(shop)
    assert (entry.user_id, entry.event, entry.task, entry.version) == (
        user, "churn", "purchase_30d", answer["model"]["version"])
    assert entry.probability == pytest.approx(answer["probability"], abs=5e-5)
    assert started <= entry.ts <= prediction_log.now_utc()


def test_drift_says_no_closed_predictions_yet_then_scores_the_closed_ones(shop):
    version = served_model(shop).meta.version
    user = population_scores(shop)["user_id"].iloc[0]
    predict(shop, user)  # asked now: its window closes 30 days after the shop's data
    [report] = run_drift(shop, ["purchase_30d"])
    assert report.served_log.closed == 0 and report.served_log.still_open == 1
    assert report.served_log.summary == "no closed predictions yet (1 still open)"
    assert summary_row(report.model_dump())[-1] == report.served_log.summary  # the CLI's row

    con = duckdb.connect(str(shop.warehouse), read_only=True)
    users = list(population_scores(shop)["user_id"])
    y = labels_after(con, ASKED, 30, users).to_numpy()
    con.close()
    p = [0.9 if label else 0.2 for label in y]
    p[:10] = [0.5] * 10  # not a perfect ranking
    for user, probability in zip(users, p):
        prediction_log.append(shop, logged(shop, user, probability, version))
    prediction_log.append(shop, logged(shop, users[0], 0.5, "some-older-version"))
    [report] = run_drift(shop, ["purchase_30d"])
    assert report.served_log.closed == len(users) and report.served_log.still_open == 1
    assert report.served_log.auc == pytest.approx(fast_auc(y, p))
    assert report.served_log.summary.startswith(f"AUC {fast_auc(y, p):.3f}, ECE ")
    written = (shop.artifacts_dir / "drift" / shop.shop / "purchase_30d.json").read_text()
    assert f'"closed": {len(users)}' in written


def test_concurrent_writers_never_interleave_lines(shop):
    def write(worker: int) -> None:
        for i in range(100):
            prediction_log.append(shop, logged(shop, f"u{worker}-{i}", 0.5, "v" * 500))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = prediction_log.read(shop)
    assert len(entries) == 800 and len({e.user_id for e in entries}) == 800


def test_a_line_cut_short_by_a_crash_is_skipped(shop):
    prediction_log.append(shop, logged(shop, "u1", 0.5, "v1"))
    with open(prediction_log.log_path(shop), "a") as log:
        log.write('{"user_id": "u2", "ev')
    prediction_log.append(shop, logged(shop, "u3", 0.5, "v1"))
    assert [e.user_id for e in prediction_log.read(shop)] == ["u1", "u3"]
