"""suggest_intervention on a toy shop whose experiment has known effects, and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finetune import registry
from finetune.uplift import artifacts
from finetune.uplift.train import train_campaign
from knowledge import warehouse
from knowledge.segment_sql import SegmentFilters
from knowledge.segments import save_segment
from knowledge.settings import Settings
from tests.uplift_shop import write_toy_campaign
from tools.registry import ToolContext, ToolError, get_tool


@pytest.fixture(scope="module")
def toy_shop(tmp_path_factory, uplift_experiment) -> Settings:
    """Warehouse 'toy' with the toy experiment, a trained T-learner, two users the experiment
    does not cover (added after training) and one user who never was in it."""
    root = tmp_path_factory.mktemp("toy_shop")
    settings = Settings(shop="toy", warehouse_dir=root / "data", artifacts_dir=root / "artifacts")
    write_toy_campaign(settings, uplift_experiment)
    train_campaign(settings, "toy", settings.warehouse, "toy", model_name="t_learner",
                   quick=True, margin_rate=1.0)
    strangers = pd.DataFrame({
        "campaign_id": "toy", "user_id": ["u_far", "u_odd"], "arm": "control", "treated": False,
        "conversion": False, "covariates": [json.dumps({"x": 50.0, "group": "a"}),
                                            json.dumps({"x": 3.0, "group": "zzz"})]})
    con = warehouse.connect(settings.warehouse, read_only=False)
    con.register("s", strangers)
    con.execute("INSERT INTO campaign_assignments BY NAME SELECT * FROM s")
    users = [*uplift_experiment["user_id"], "u_far", "u_odd", "u_new"]
    con.register("u", pd.DataFrame({"user_id": users}))
    con.execute("INSERT INTO users (user_id) SELECT user_id FROM u")
    con.close()
    return settings


def call(settings: Settings, role: str = "operator", **args) -> dict:
    return get_tool("suggest_intervention").invoke(ToolContext(settings, role=role), args)


def _true_effect(uplift_experiment, user_id: str, arm: str) -> float:
    cov = uplift_experiment.set_index("user_id").loc[user_id, "covariates"]
    if arm == "email":
        return 0.2 * (cov["group"] == "a")
    return 0.15 * (cov["x"] > 5) if arm == "coupon" else 0.0


def test_user_answer_names_arm_uplift_money_and_the_experiment(toy_shop, uplift_experiment):
    cov = pd.DataFrame(list(uplift_experiment["covariates"]))
    user = uplift_experiment["user_id"][(cov["group"] == "a") & (cov["x"] < 4)].iloc[0]
    out = call(toy_shop, user_id=user)
    assert out["treat"] is True and out["arm"] == "email"
    assert 0.1 < out["estimated_uplift"] < 0.3
    assert set(out["uplift_by_arm"]) == {"email", "coupon"}
    assert out["expected_cost"] == 0.05
    assert out["model"]["campaign_id"] == "toy" and out["model"]["outcome"] == "conversion"
    assert out["model"]["arm_channels"] == {"email": "email", "coupon": "coupon"}
    low, high = (out["heldout_uplift_of_similar_users"][k] for k in ("low", "high"))
    assert low < high
    assert out["headline"] == (f"Contact {user} by email: estimated uplift "
                               f"{out['estimated_uplift'] * 100:+.1f} points, expected incremental "
                               f"profit {out['expected_incremental_profit']:.2f}.")


def test_channel_restricts_the_arm(toy_shop, uplift_experiment):
    cov = pd.DataFrame(list(uplift_experiment["covariates"]))
    user = uplift_experiment["user_id"][(cov["group"] == "a") & (cov["x"] > 7)].iloc[0]
    assert call(toy_shop, user_id=user, channel="coupon")["best_arm"] == "coupon"
    assert call(toy_shop, user_id=user, channel="email")["best_arm"] == "email"


def test_segment_plan_targets_users_the_arms_really_help(toy_shop, uplift_experiment):
    out = call(toy_shop, segment={}, max_users=300)
    plan = out["plan"]
    assert plan["users_treated"] == 300
    assert out["users_in_segment"] == len(uplift_experiment) + 3
    assert out["users_outside_trained_population"] == 2
    assert out["users_not_in_any_experiment"] == 1
    helped = [_true_effect(uplift_experiment, u["user_id"], u["arm"]) > 0 for u in out["top_users"]]
    assert np.mean(helped) >= 0.9
    conv = plan["expected_incremental_conversions"]
    assert conv["heldout_95"]["low"] < conv["heldout_95"]["high"]
    assert conv["heldout_95"]["high"] > 0


def test_budget_caps_total_cost(toy_shop):
    out = call(toy_shop, segment={}, budget=10.0)
    assert 0 < out["plan"]["total_cost"] <= 10.0
    assert sum(out["plan"]["by_arm"].values()) == out["plan"]["users_treated"]


def test_saved_segment_by_name(toy_shop):
    save_segment(toy_shop.warehouse, "nobody bought", SegmentFilters(max_orders=0), replace=True)
    out = call(toy_shop, segment="nobody bought", max_users=5)
    assert out["segment"] == "nobody bought" and out["plan"]["users_treated"] == 5


def test_no_user_and_no_segment_plans_over_all_customers(toy_shop):
    everyone = call(toy_shop, max_users=5)
    assert everyone["segment"] == "{}" and everyone["plan"] == call(toy_shop, segment={},
                                                                     max_users=5)["plan"]
    assert everyone["headline"].startswith(
        f"Plan for all customers (max users 5): contact {everyone['plan']['users_treated']} of "
        f"{everyone['users_in_segment']:,} users")


@pytest.mark.parametrize("args, message", [
    ({"user_id": "u0001", "channel": "ad"}, "no randomised experiment .* covers channel 'ad'"),
    ({"user_id": "u0001", "channel": "sms"}, "channel: Input should be 'email', 'coupon' or 'ad'"),
    ({"user_id": "u_new"}, "was not in experiment toy"),
    ({"user_id": "u_far"}, "outside the population .*x=50 outside the trained range"),
    ({"user_id": "u_odd"}, "group='zzz' never seen"),
    ({"user_id": "nobody"}, "unknown user_id 'nobody'"),
    ({"user_id": "u0001", "segment": "x"}, "user_id or segment, not both"),
    ({"segment": {}, "budget": -5}, "budget"),
    ({"segment": {}, "max_users": 0}, "max_users"),
    ({"segment": {"colour": "red"}}, "unknown filter key"),
    ({"segment": "no such segment"}, "no saved segment"),
])
def test_refusals_say_what_is_wrong(toy_shop, args, message):
    with pytest.raises(ToolError, match=message):
        call(toy_shop, **args)


def test_no_model_trained_says_how_to_train(toy_shop, tmp_path):
    untrained = toy_shop.model_copy(update={"artifacts_dir": tmp_path})
    with pytest.raises(ToolError, match="shopmind train uplift --data toy"):
        call(untrained, user_id="u0001")


def test_customers_cannot_use_it(toy_shop):
    with pytest.raises(ToolError, match="not available to the customer role"):
        call(toy_shop, role="customer", user_id="u0001")


def test_synthetic_shop_trains_and_answers(small_shop, tmp_path):
    from finetune.uplift.train import is_current, train_shop

    settings = small_shop.model_copy(update={"artifacts_dir": tmp_path})
    assert not is_current(settings)
    (meta,) = train_shop(settings, "synthetic", quick=True)
    assert is_current(settings)
    assert meta.campaign.arms == ["control", "email", "coupon"]
    assert set(meta.true_effect) == {"email", "coupon"}  # the synthetic shop knows its effects
    slot = registry.load(settings).slot(f"uplift/synthetic/{meta.campaign.campaign_id}")
    assert slot.serving.version == meta.version  # the first version passed the gate
    plan = call(settings, segment={}, max_users=10)
    assert 0 < plan["plan"]["users_treated"] <= 10
    assert plan["models"][0]["campaign_id"] == meta.campaign.campaign_id
    user = plan["top_users"][0]
    answer = call(settings, user_id=user["user_id"])
    assert answer["treat"] is True and answer["arm"] == user["arm"]
    assert call(settings, user_id=user["user_id"], channel="coupon")["best_arm"] == "coupon"
    with pytest.raises(ToolError, match="covers channel 'ad'"):
        call(settings, segment={}, channel="ad")


def test_stored_scores_equal_a_fresh_prediction(toy_shop):
    from tools.intervention import _load, _predict, _score

    (folder,) = artifacts.serving(toy_shop, "toy")
    loaded = _load(folder)
    users = ["u0003", "u0100", "u2999"]
    stored, fresh = _score(toy_shop, loaded, users), _predict(toy_shop, loaded, users)
    assert stored.user_ids == fresh.user_ids == users
    assert np.allclose(stored.uplift, fresh.uplift)


def test_train_uplift_command_trains_and_rejects_bad_options(toy_shop, tmp_path):
    from typer.testing import CliRunner

    from assistant.cli import app

    base = ["--set", "shop=toy", "--set", f"warehouse_dir={toy_shop.warehouse_dir}",
            "--set", f"artifacts_dir={tmp_path}", "train", "uplift", "--data", "toy"]
    result = CliRunner().invoke(app, [*base, "--model", "class_transformation", "--quick"])
    assert result.exit_code == 0, result.output
    assert "qini_auc" in result.output and "coupon" in result.output
    (meta_file,) = (tmp_path / "uplift" / "toy" / "toy").glob("*/meta.json")
    meta = json.loads(meta_file.read_text())
    assert meta["model"] == "class_transformation" and meta["rows"]["test"] > 0
    bad = CliRunner().invoke(app, [*base, "--model", "magic"])
    assert bad.exit_code != 0 and "unknown model 'magic'" in bad.output
    bad = CliRunner().invoke(app, [*base, "--outcome", "revenue"])
    assert bad.exit_code != 0 and "unknown outcome 'revenue'" in bad.output


def test_model_of_an_older_import_is_refused_as_stale(toy_shop, tmp_path):
    import shutil

    copy = tmp_path / "toy.duckdb"
    shutil.copyfile(toy_shop.warehouse, copy)
    con = warehouse.connect(copy, read_only=False)
    con.execute("INSERT INTO imports VALUES ('toy', now(), NULL, NULL)")
    con.close()
    reimported = toy_shop.model_copy(update={"warehouse_path": copy})
    with pytest.raises(ToolError, match="re-imported .* retrain with `shopmind train uplift"):
        call(reimported, user_id="u0001")
