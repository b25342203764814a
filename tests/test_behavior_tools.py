import shutil

import duckdb
import pytest

from finetune.behavior.artifacts import SERVABLE
from finetune.behavior.train import is_current, train_default
from tools.behavior import population_scores, predict
from tools.profile import profile
from tools.registry import ToolContext, ToolError, get_tool


@pytest.fixture(scope="module")
def trained_shop(small_shop, tmp_path_factory):
    """The small synthetic shop (a copy of its warehouse) after the `shopmind up` behaviour stage:
    purchase and click models, each the validation winner of logistic regression and LightGBM."""
    root = tmp_path_factory.mktemp("behaviour_tools")
    shutil.copy(small_shop.warehouse, root / "shop.duckdb")
    shop = small_shop.model_copy(update={"warehouse_path": root / "shop.duckdb",
                                         "artifacts_dir": root / "artifacts"})
    assert not is_current(shop)
    summary = train_default(shop)  # what `shopmind up` runs
    assert summary[0].startswith("purchase_30d (test AUC") and summary[2].startswith("click_30d")
    assert "purchase_90d skipped: no training cutoff left" in summary[1]  # 120 days of history
    assert is_current(shop)
    return shop


def active_user(shop) -> str:
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    user = con.execute("SELECT user_id FROM events WHERE event_type = 'purchase' "
                       "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
    con.close()
    return user


def test_predict_behavior_returns_probability_percentile_factors_and_model(trained_shop):
    user = active_user(trained_shop)
    ctx = ToolContext(trained_shop, role="operator")
    out = get_tool("predict_behavior").invoke(ctx, {"user_id": user})
    assert 0 < out["probability"] < 1 and 0 < out["percentile"] <= 100
    assert out["event"] == "purchase" and out["horizon_days"] == 30
    assert out["model"]["name"] in SERVABLE  # the validation winner, not always LightGBM
    assert out["model"]["version"].startswith(out["model"]["name"] + "-")
    assert out["model"]["calibration"] in ("identity", "platt", "isotonic")
    assert 0 <= out["model"]["test_ece"] < 0.2
    assert out["data_cutoff"] == "2026-11-01 00:00"
    factors = out["top_factors"]
    assert 1 <= len(factors) <= 5 and all(f["direction"] in ("raises", "lowers") for f in factors)
    assert abs(factors[0]["effect"]) >= abs(factors[-1]["effect"]) and factors[0]["meaning"]
    assert next(iter(out)) == "headline" and out["headline"].startswith(
        f"{user} has a {out['probability']:.0%} chance to buy in the next 30 days, higher than "
        f"{out['percentile']:.0f}% of ") and factors[0]["meaning"] in out["headline"]
    click = get_tool("predict_behavior").invoke(ctx, {"user_id": user, "event": "click"})
    assert click["model"]["name"] in SERVABLE and click["event"] == "click"


def test_churn_is_the_complement_of_purchase_with_flipped_factors(trained_shop):
    user = active_user(trained_shop)
    buy = predict(trained_shop, user, "purchase", 30)
    churn = predict(trained_shop, user, "churn", 30)
    assert churn["probability"] == pytest.approx(1 - buy["probability"], abs=2e-4)
    assert churn["top_factors"][0]["effect"] == -buy["top_factors"][0]["effect"]


def test_percentile_ranks_the_user_among_population_scores(trained_shop):
    scores = population_scores(trained_shop, "purchase", 30)
    assert list(scores.columns) == ["user_id", "probability"] and len(scores) > 100
    assert scores["probability"].between(0, 1).all()
    top = scores.sort_values("probability").iloc[-1]
    out = predict(trained_shop, top["user_id"])
    assert out["percentile"] == 100.0 and out["population"] == len(scores)
    assert out["probability"] == pytest.approx(top["probability"], abs=1e-4)


def test_a_new_event_changes_the_next_prediction(trained_shop, tmp_path):
    shop = trained_shop.model_copy(update={"warehouse_path": tmp_path / "shop.duckdb"})
    shutil.copy(trained_shop.warehouse, shop.warehouse)
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    user = con.execute("SELECT user_id FROM events GROUP BY 1 HAVING max(ts) < '2026-09-01' "
                       "ORDER BY 1 LIMIT 1").fetchone()[0]
    con.close()
    before = predict(shop, user)
    con = duckdb.connect(str(shop.warehouse))
    con.execute("INSERT INTO events SELECT user_id, product_id, category, 'purchase', "
                "TIMESTAMP '2026-10-31 20:00', 'new-order', 3, 20.0 FROM events "
                "WHERE user_id = ? LIMIT 1", [user])
    con.close()
    after = predict(shop, user)
    assert after["probability"] != before["probability"]
    assert after["data_cutoff"] == before["data_cutoff"]  # same day: same as-of time


def test_errors_say_what_to_do(trained_shop, tmp_path):
    ctx = ToolContext(trained_shop, role="operator")
    spec = get_tool("predict_behavior")
    with pytest.raises(ToolError, match="unknown user 'nobody'"):
        spec.invoke(ctx, {"user_id": "nobody"})
    with pytest.raises(ToolError, match="unsupported horizon 90 days for churn .*trained "
                       "horizons for churn: 30 days.*--horizon 90"):
        spec.invoke(ctx, {"user_id": active_user(trained_shop), "event": "churn"})
    with pytest.raises(ToolError, match="invalid arguments .*event"):
        spec.invoke(ctx, {"user_id": "x", "event": "refund"})
    with pytest.raises(ToolError, match="invalid arguments .*horizon_days"):
        spec.invoke(ctx, {"user_id": "x", "horizon_days": 0})
    empty = ToolContext(trained_shop.model_copy(update={"artifacts_dir": tmp_path}))
    with pytest.raises(ToolError, match="no purchase model is trained.*shopmind train behavior"):
        spec.invoke(empty, {"user_id": "x"})


def test_customers_cannot_use_operator_behaviour_tools(trained_shop):
    user = active_user(trained_shop)
    ctx = ToolContext(trained_shop, role="customer", customer_id=user)
    for name in ("predict_behavior", "get_user_profile"):
        with pytest.raises(ToolError, match="not available to the customer role"):
            get_tool(name).invoke(ctx, {"user_id": user})


def test_user_profile_summarises_history_with_rfm(trained_shop):
    user = active_user(trained_shop)
    out = get_tool("get_user_profile").invoke(ToolContext(trained_shop), {"user_id": user})
    assert out["orders"] >= 2 and out["spend"] > 0 and out["events"]["purchase"] >= 2
    assert out["first_seen"] < out["last_seen"] and out["top_categories"]
    assert out["rfm"]["frequency"] == 5 and 1 <= out["rfm"]["recency"] <= 5
    assert out["rfm"]["segment"]
    assert f"{out['orders']} orders, {out['spend']:.2f} spent in total" in out["headline"]
    assert out["top_categories"][0]["category"] in out["headline"]
    with pytest.raises(ToolError, match="unknown user"):
        profile(trained_shop, "nobody")
