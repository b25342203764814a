from datetime import datetime

import duckdb
import pytest

from knowledge.features import build_features, data_cutoff, population
from knowledge.labels import labels_after, labels_complete
from knowledge.sequences import history_texts, number
from tests.behavior_data import CUTOFF, EVENTS, build_tiny_warehouse


@pytest.fixture
def con(tmp_path):
    path = build_tiny_warehouse(tmp_path / "tiny.duckdb")
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def test_features_at_cutoff_are_exact(con):
    f = build_features(con, CUTOFF, categories=["kitchen", "home"])
    assert list(f.index) == ["u1", "u2", "u3"]  # u4 first appears after the cutoff
    u1 = f.loc["u1"]
    assert u1["frequency"] == 2 and u1["purchase_days"] == 2
    assert u1["monetary"] == pytest.approx(2 * 4.5 + 20 + 4 * 3)
    assert u1["recency_days"] == pytest.approx((CUTOFF - datetime(2024, 2, 20, 15)).total_seconds() / 86400)
    assert u1["tenure_days"] == pytest.approx((CUTOFF - datetime(2024, 1, 10, 9)).total_seconds() / 86400)
    assert u1["ipt_mean"] == pytest.approx(41) and u1["ipt_last"] == pytest.approx(41)
    assert u1["views"] == 1 and u1["baskets_30d"] == 1 and u1["baskets_90d"] == 2
    assert u1["cat_share__kitchen"] == pytest.approx(2 / 4)
    u2 = f.loc["u2"]
    assert u2["frequency"] == 0 and u2["carts"] == 1 and u2["has_purchase"] == 0
    assert u2["cat_share__home"] == 1.0
    assert f.loc["u3", "recency_days"] > 100


def test_features_ignore_every_event_after_the_cutoff(tmp_path, con):
    """Drop all later events from a copy of the warehouse: the features must not change."""
    before = [e for e in EVENTS if e[4] < CUTOFF]
    path = build_tiny_warehouse(tmp_path / "past_only.duckdb", before)
    past_only = duckdb.connect(str(path), read_only=True)
    full = build_features(con, CUTOFF, categories=["kitchen", "home"])
    past = build_features(past_only, CUTOFF, categories=["kitchen", "home"])
    assert full.equals(past)
    assert history_texts(con, CUTOFF).equals(history_texts(past_only, CUTOFF))
    # ...while a later cutoff does see them
    later = build_features(con, datetime(2024, 4, 1))
    assert later.loc["u1", "frequency"] == 3 and "u4" in later.index


def test_features_for_one_user_match_the_population_row(con):
    full = build_features(con, CUTOFF, categories=["kitchen"])
    one = build_features(con, CUTOFF, users=["u1"], categories=["kitchen"])
    assert list(one.index) == ["u1"]
    assert one.loc["u1"].equals(full.loc["u1"])


def test_labels_count_only_the_horizon_window(con):
    users = population(con, CUTOFF)
    assert labels_after(con, CUTOFF, 14, users).to_dict() == {"u1": 1.0, "u2": 0.0, "u3": 0.0}
    assert labels_after(con, CUTOFF, 30, users).to_dict() == {"u1": 1.0, "u2": 1.0, "u3": 0.0}
    assert labels_after(con, CUTOFF, 7, users, kind="click").to_dict() == {
        "u1": 0.0, "u2": 1.0, "u3": 0.0}
    assert labels_complete(con, CUTOFF, 20) and not labels_complete(con, CUTOFF, 60)


def test_history_text_is_recent_first_with_numbers_and_summary(con):
    features = build_features(con, CUTOFF)
    texts = history_texts(con, CUTOFF, features=features)
    u1 = texts["u1"]
    assert u1.startswith("customer for 50 days, 2 orders, spent 41 in total, last order 9 days ago. 1 day")
    assert u1.index("viewed: blue lamp") < u1.index("bought: 4 x tea towel at 3")
    assert u1.index("tea towel") < u1.index("2 x red mug at 4.5")
    assert "(2024-01-10)" in u1 and "2024-03" not in u1
    assert "added to cart: blue lamp" in texts["u2"]
    assert texts["u1"].endswith(".")


def test_history_text_truncates_to_the_most_recent(con):
    texts = history_texts(con, CUTOFF, users=["u1"], max_lines=1)
    assert texts["u1"] == "1 day ago (2024-02-28) viewed: blue lamp."


def test_numbers_are_plain_decimals():
    assert [number(2.5), number(3.0), number(1234.567)] == ["2.5", "3", "1234.57"]


def test_data_cutoff_is_midnight_after_last_event(con):
    assert data_cutoff(con) == datetime(2024, 3, 21)


def test_pairs_use_the_lookback_only_and_label_the_next_day(con):
    from knowledge.pairs import pair_frame

    items = pair_frame(con, CUTOFF, "product_id", lookback_days=3, horizon_days=30)
    # only u1's view of p2 on 02-28 is within 3 days before the cutoff
    assert list(items.index) == [("u1", "p2")]
    assert items.loc[("u1", "p2"), "pair_views"] == 1 and items.loc[("u1", "p2"), "label"] == 0
    cats = pair_frame(con, datetime(2024, 3, 2), "category", lookback_days=3, horizon_days=1)
    # u2 views kitchen on 03-02 (after this cutoff): not a feature, and it is no candidate pair
    assert ("u2", "kitchen") not in cats.index and list(cats.index) == [("u1", "home")]
    bought = pair_frame(con, datetime(2024, 2, 2), "product_id", lookback_days=3, horizon_days=30)
    assert bought.loc[("u2", "p2"), "pair_carted"] == 1 and bought.loc[("u2", "p2"), "label"] == 0
