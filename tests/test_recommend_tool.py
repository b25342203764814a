"""recommend_products on a tiny themed shop with the real MiniLM and every trained component."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime

import pytest

from finetune import registry
from knowledge import warehouse
from knowledge.settings import Settings
from knowledge.text_embeddings import text_encoder
from tests.recommend_shop import trained_themed_shop, write_themed_shop
from tools.registry import ToolContext, ToolError, get_tool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Settings:
    """The themed shop, trained once for the module."""
    return trained_themed_shop(tmp_path_factory.mktemp("themed"))


def call(settings: Settings, role: str = "operator", customer_id: str | None = None, **args) -> dict:
    ctx = ToolContext(settings=settings, role=role, customer_id=customer_id)
    return get_tool("recommend_products").invoke(ctx, args)


def purchased(settings: Settings, user_id: str) -> set[str]:
    con = warehouse.connect(settings.warehouse)
    rows = con.execute("SELECT DISTINCT product_id FROM events WHERE user_id = ? AND "
                       "event_type = 'purchase'", [user_id]).fetchall()
    con.close()
    return {r[0] for r in rows}


def _private(shop, tmp_path) -> Settings:
    """The trained shop with a warehouse of the test's own (events get written)."""
    settings = shop.model_copy(update={"warehouse_path": tmp_path / "w.duckdb"})
    shutil.copyfile(shop.warehouse, settings.warehouse)
    return settings


def test_training_writes_artifacts_with_meta(shop):
    folder = registry.serving_folder(shop, "recommend/themed")  # the first version serves
    meta = json.loads((folder / "meta.json").read_text())
    assert folder.parent == shop.artifacts_dir / "recommend" / "themed"
    assert meta["heldout"]["all"]["ndcg@10"] > 0.3  # measured on users never tuned on
    assert {"popularity", "repeat", "itemknn", "als", "text", "sasrec"} <= set(meta["components"])
    assert set(meta["weights"]) == {"all", "new"}
    assert meta["data_version"].startswith("themed_test_shop@")
    index_meta = json.loads((folder / "text_index" / "meta.json").read_text())
    encoder = text_encoder(shop.text_encoder)
    assert index_meta["model"] == encoder.model and index_meta["dimension"] == encoder.dimension


def test_by_user_returns_items_with_every_field_and_excludes_purchases(shop):
    out = call(shop, user_id="u001", k=5)
    assert out["mode"] == "user" and len(out["items"]) == 5
    for item in out["items"]:
        assert set(item) == {"id", "title", "price", "score", "reason"} and item["reason"]
    assert not {i["id"] for i in out["items"]} & purchased(shop, "u001")
    assert out["headline"].startswith("Top 5 products for u001: ")
    assert all(f"{i['title']} ({i['price']})" in out["headline"] for i in out["items"])


def test_without_exclusion_the_users_own_items_come_back(shop):
    out = call(shop, user_id="u001", k=5, exclude_purchased=False)
    assert {i["id"] for i in out["items"]} & purchased(shop, "u001")


def test_user_recommendations_stay_in_the_users_theme_and_say_why(shop):
    unbought = 6 - len(purchased(shop, "u000"))  # u000 buys lanterns (L0-L5) only
    assert unbought >= 1
    out = call(shop, user_id="u000", k=unbought)
    assert all(i["id"].startswith("L") for i in out["items"])
    assert all(r.startswith(("bought together with '", "similar to '", "often comes next after '",
                             "popular")) for r in (i["reason"] for i in out["items"]))
    assert any("LANTERN" in i["reason"] for i in out["items"])


def test_query_search_matches_the_text(shop):
    out = call(shop, query="red lantern", k=3)
    assert out["mode"] == "query"
    assert out["items"][0]["title"] in {"RED PAPER LANTERN", "RED HANGING LANTERN"}
    assert all(i["reason"].startswith("matches 'red lantern'") for i in out["items"])


def test_query_is_reranked_for_the_user(shop):
    plain = call(shop, query="gift", k=5)
    for_lantern_fan = call(shop, query="gift", k=5, user_id="u004", exclude_purchased=False)
    assert for_lantern_fan["mode"] == "query+user"
    assert [i["id"] for i in plain["items"]] != [i["id"] for i in for_lantern_fan["items"]]


def test_unknown_user_falls_back_to_popular_and_says_so(shop):
    out = call(shop, user_id="nobody", k=4)
    assert out["mode"] == "popular" and "no history for user nobody" in out["note"]
    assert "popular overall" in out["note"] and len(out["items"]) == 4
    assert all(i["reason"] == "popular overall" for i in out["items"])


def test_known_user_without_history_gets_their_countrys_favourites(shop, tmp_path):
    settings = _private(shop, tmp_path)
    con = warehouse.connect(settings.warehouse, read_only=False)
    con.execute("INSERT INTO users (user_id, country) VALUES ('newbie', 'France')")
    con.close()
    out = call(settings, user_id="newbie")
    assert "popular in France" in out["note"]
    assert all(i["reason"] == "popular in France" for i in out["items"])


def test_a_fresh_event_changes_the_next_answer(shop, tmp_path):
    settings = _private(shop, tmp_path)
    before = call(settings, user_id="u000", k=5)  # a lantern fan ...
    con = warehouse.connect(settings.warehouse, read_only=False)
    for minute, item in enumerate(["M0", "M1", "M2", "M3"]):  # ... starts browsing mugs now
        con.execute("INSERT INTO events (user_id, product_id, event_type, ts) VALUES "
                    "('u000', ?, 'cart', ?)", [item, datetime(2026, 4, 2, 12, minute)])
    con.close()
    after = call(settings, user_id="u000", k=5)
    assert [i["id"] for i in after["items"]] != [i["id"] for i in before["items"]]
    assert any(i["id"].startswith("M") for i in after["items"])


def test_a_customers_query_is_reranked_with_the_event_their_widget_just_sent(shop, tmp_path):
    settings = _private(shop, tmp_path)
    before = call(settings, role="customer", customer_id="u000", query="gift")  # a lantern fan
    assert before["mode"] == "query+user" and not any(i["id"] == "M1" for i in before["items"])
    warehouse.append_event(settings.warehouse, "u000", "M1", "view",  # what /v1/events does
                           session_id="widget-session")
    after = call(settings, role="customer", customer_id="u000", query="gift")
    assert after["items"][0]["id"] == "M1"
    assert after["items"][0]["reason"].endswith(f"you looked at it before (last on "
                                                f"{datetime.now(UTC):%Y-%m-%d})")
    anonymous = call(settings, role="customer", query="gift")
    assert anonymous["mode"] == "query" and anonymous["user_id"] is None


def test_a_recommendation_waits_for_an_event_being_written(shop, tmp_path):
    settings = _private(shop, tmp_path)
    writing = warehouse.open_shared(settings.warehouse, write=True)  # DuckDB: no reader now
    threading.Timer(0.3, writing.close).start()
    assert call(settings, role="customer", customer_id="u000", query="gift")["items"]


@pytest.mark.parametrize("args, message", [
    ({"query": "  "}, "query is empty"),
    ({}, "needs a user_id, a query, or both"),
    ({"user_id": ""}, "user_id is empty"),
    ({"query": "mug", "k": 0}, "k: Input should be greater than or equal to 1"),
    ({"query": "mug", "k": 51}, "k: Input should be less than or equal to 50"),
])
def test_bad_arguments_are_clear_errors(shop, args, message):
    with pytest.raises(ToolError, match=message):
        call(shop, **args)


def test_customer_cannot_recommend_by_someone_elses_user_id(shop):
    with pytest.raises(ToolError, match="only personalise .* their own account"):
        call(shop, role="customer", customer_id="u001", user_id="u002", query="mug")
    with pytest.raises(ToolError, match="by query only"):
        call(shop, role="customer", customer_id="u001", user_id="u001")
    own = call(shop, role="customer", customer_id="u001", user_id="u001", query="mug")
    assert own["mode"] == "query+user"
    assert call(shop, role="customer", customer_id="u001", query="mug")["items"]


def test_missing_model_says_how_to_build_it(tmp_path):
    settings = Settings(shop="empty", warehouse_dir=tmp_path, artifacts_dir=tmp_path / "a")
    write_themed_shop(settings.warehouse, n_users=4)
    with pytest.raises(ToolError, match="shopmind train recommend"):
        call(settings, query="mug")


def test_product_index_is_reused_while_the_data_is_unchanged(shop):
    from knowledge.product_index import current_product_index, index_dir

    built_at = json.loads((index_dir(shop) / "meta.json").read_text())["created_at"]
    index, texts = current_product_index(shop)
    assert index.meta.created_at == built_at and len(texts) == index.meta.count


def test_index_build_rejects_an_unknown_index_type(shop):
    from typer.testing import CliRunner

    from assistant.cli import app

    result = CliRunner().invoke(app, ["--set", f"warehouse_path={shop.warehouse}",
                                      "index", "build", "--index-type", "lsh"])
    assert result.exit_code != 0 and "unknown index type 'lsh'" in result.output
