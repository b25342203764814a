"""The recommender's promotion gate (paired bootstrap of per-user NDCG@10 on the newest held-out
window), registry versions for `recommend/<shop>`, and the tool following the registry."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from finetune import registry
from finetune.recommend.data import DAY, train_data
from finetune.recommend.popularity import Popularity
from finetune.recommend.promotion import recommend_gate
from finetune.recommend.repeat import Repeat
from knowledge import warehouse
from knowledge.settings import Settings
from tests.recommend_shop import START, themed_events, trained_themed_shop
from tools.registry import ToolContext, get_tool

SLOT = "recommend/themed"


def as_events(frame: pd.DataFrame) -> pd.DataFrame:
    """The warehouse rows as `load_events` returns them (ts in unix seconds)."""
    events = frame[["user_id", "product_id", "event_type"]].assign(
        ts=frame["ts"].astype("datetime64[ns]").astype("int64") / 1e9)
    return events.sort_values(["user_id", "ts"], ignore_index=True)


def fitted(model, events: pd.DataFrame, cutoff: float):
    """(protocol -> score function, catalogue, last training event) of a model fitted before
    the cutoff, in the shape recommend_gate takes."""
    data = train_data(events[events["ts"] < cutoff])
    model.fit(data)
    return (lambda protocol: model.score), data.items, data.end


def test_gate_refuses_popularity_only_against_a_personal_recommender(tmp_path):
    settings = Settings(artifacts_dir=tmp_path, gate_bootstrap=300)
    events = as_events(themed_events(n_users=160)[2])
    cutoff = events["ts"].min() + 70 * DAY
    personal = fitted(Repeat(half_life_days=30), events, cutoff)
    popular = fitted(Popularity(half_life_days=30), events, cutoff)
    worse = recommend_gate(settings, events, cutoff, popular[:2], personal)
    refused = [v for v in worse if not v.promote]
    assert refused and "NDCG@10 (all)" in refused[0].reason, [v.reason for v in worse]
    assert refused[0].diff_ci[1] < 0 and refused[0].rows > 20
    better = recommend_gate(settings, events, cutoff, personal[:2], popular)
    assert all(v.promote for v in better), [v.reason for v in better]


def test_a_first_recommender_is_judged_on_held_out_users_only(tmp_path):
    settings = Settings(artifacts_dir=tmp_path, gate_bootstrap=200)
    events = as_events(themed_events(n_users=160)[2])
    cutoff = events["ts"].min() + 70 * DAY
    personal = fitted(Repeat(half_life_days=30), events, cutoff)
    (first, *_) = recommend_gate(settings, events, cutoff, personal[:2], None)
    assert first.promote and first.reason.startswith("first version")
    after = events[events["ts"] >= cutoff]["user_id"].nunique()
    assert 0 < first.rows < after  # the held-out half, not every user of the window


def _add_newer_events(settings: Settings) -> None:
    """Another 90 days of the same customers' habits, after the trained data ends."""
    newer = themed_events(seed=1)[2].assign(
        ts=lambda f: f["ts"] + (START + timedelta(days=95) - START))
    con = warehouse.connect(settings.warehouse, read_only=False)
    con.register("newer", newer)
    con.execute("INSERT INTO events BY NAME SELECT * FROM newer")
    con.close()


def _served_version(settings: Settings) -> str:
    ctx = ToolContext(settings=settings, role="operator")
    return get_tool("recommend_products").invoke(ctx, {"user_id": "u001", "k": 3})["model"][
        "version"]


@pytest.mark.slow
def test_a_popularity_only_retrain_is_refused_and_the_tool_follows_promote_and_rollback(
        tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from assistant.cli import app
    from finetune.recommend import artifacts, train
    from finetune.retrain import retrain

    shop = trained_themed_shop(tmp_path, gate_bootstrap=300)
    first = registry.load(shop).slot(SLOT).serving.version
    assert _served_version(shop) == first and artifacts.is_current(shop)
    _add_newer_events(shop)
    assert not artifacts.is_current(shop)
    monkeypatch.setattr(train, "make_components",
                        lambda half_life, *args, **kwargs: [Popularity(half_life)])
    (line,) = retrain(shop, stages=("recommend",))  # the data changed: trains and gates
    candidate = artifacts.latest(shop).version
    entry = registry.load(shop).slot(SLOT).get(candidate)
    assert entry.status == "candidate" and "refused: NDCG@10" in entry.note, entry.note
    assert line.startswith(f"{SLOT}: {candidate} stays a candidate")
    assert _served_version(shop) == first
    assert "skipped" in retrain(shop, stages=("recommend",))[0]  # a refused version counts

    cli = ["--set", f"artifacts_dir={shop.artifacts_dir}", "models"]
    assert CliRunner().invoke(app, [*cli, "promote", candidate]).exit_code == 0
    assert _served_version(shop) == candidate
    result = CliRunner().invoke(app, [*cli, "rollback", SLOT])
    assert result.exit_code == 0, result.output
    assert _served_version(shop) == first
    listed = CliRunner().invoke(app, [*cli, "list", "--slot", "recommend/"]).output
    assert "serving" in listed and "retired" in listed and "NDCG@10" in listed


def test_with_no_event_newer_than_the_serving_version_the_candidate_is_refused(tmp_path):
    settings = Settings(artifacts_dir=tmp_path, gate_bootstrap=100)
    events = as_events(themed_events(n_users=40)[2])
    cutoff = events["ts"].min() + 70 * DAY
    personal = fitted(Repeat(half_life_days=30), events, cutoff)
    trained_on_all = (personal[0], personal[1], float(events["ts"].max()))
    (verdict,) = recommend_gate(settings, events, cutoff, personal[:2], trained_on_all)
    assert not verdict.promote and "nothing to judge the candidate on" in verdict.reason
