"""The synthetic shop looks like a shop: consistent records, Zipf popularity, a funnel,
seasonality, repeat buyers and churners, and a campaign whose true effect is what we observe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from knowledge import warehouse
from knowledge.settings import Settings, SettingsError
from knowledge.synthetic.shop import Shop, generate

TOOL_TABLES = ["users", "products", "product_variants", "orders", "order_items", "payment_methods",
               "payments", "fulfillments", "events", "campaigns", "campaign_assignments"]


@pytest.fixture(scope="module")
def shop(small_shop: Settings) -> duckdb.DuckDBPyConnection:
    con = warehouse.connect(small_shop.warehouse)
    yield con
    con.close()


@pytest.fixture(scope="module")
def year_shop(tmp_path_factory) -> Shop:
    """A full year with enough customers to measure the campaign (a few seconds)."""
    root = tmp_path_factory.mktemp("year")
    settings = Settings(warehouse_dir=root, artifacts_dir=root, synthetic_users=4000,
                        synthetic_products=120, synthetic_days=365)
    return generate(settings)


@pytest.fixture(scope="module")
def year(year_shop: Shop) -> dict[str, pd.DataFrame]:
    return year_shop.tables


def one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


def test_same_seed_gives_identical_tables_and_another_seed_differs(settings):
    first, again = generate(settings).tables, generate(settings).tables
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name], obj=name)
    other = generate(settings.model_copy(update={"seed": settings.seed + 1})).tables
    for name in ("users", "products", "orders", "events"):
        assert not first[name].equals(other[name]), name


def test_every_table_the_tools_need_is_filled(shop):
    for name in TOOL_TABLES:
        assert one(shop, f"SELECT count(*) FROM {name}") > 0, name
    statuses = {r[0] for r in shop.execute("SELECT DISTINCT status FROM orders").fetchall()}
    assert statuses == {"pending", "processed", "delivered", "cancelled"}


def test_ids_look_like_tau_bench(shop):
    users = [r[0] for r in shop.execute("SELECT user_id FROM users").fetchall()]
    assert all(pd.Series(users).str.fullmatch(r"[a-z]+_[a-z]+_\d{4}"))
    assert one(shop, r"SELECT count(*) FROM orders WHERE NOT regexp_full_match(order_id, '#W\d{7}')") == 0
    assert one(shop, r"""SELECT count(*) FROM payment_methods WHERE NOT regexp_full_match(
        payment_method_id, '(credit_card|paypal|gift_card)_\d{7}')""") == 0
    assert one(shop, "SELECT count(*) FROM payment_methods WHERE NOT starts_with(payment_method_id, source)") == 0


def test_customer_can_be_found_by_name_and_zip(shop):
    first, last, zip_code, user_id = shop.execute(
        "SELECT first_name, last_name, zip, user_id FROM users LIMIT 1").fetchone()
    found = shop.execute("SELECT user_id FROM users WHERE first_name = ? AND last_name = ? AND zip = ?",
                         [first, last, zip_code]).fetchall()
    assert (user_id,) in found and len(found) == 1
    assert one(shop, "SELECT count(DISTINCT email) FROM users") == one(shop, "SELECT count(*) FROM users")


def test_records_reference_each_other(shop):
    orphans = {
        "order user": "SELECT count(*) FROM orders o ANTI JOIN users u USING (user_id)",
        "line order": "SELECT count(*) FROM order_items i ANTI JOIN orders o USING (order_id)",
        "order without lines": "SELECT count(*) FROM orders o ANTI JOIN order_items i USING (order_id)",
        "line item": "SELECT count(*) FROM order_items i ANTI JOIN product_variants v USING (item_id)",
        "item of other product": """SELECT count(*) FROM order_items i JOIN product_variants v
            USING (item_id) WHERE v.product_id <> i.product_id""",
        "variant product": "SELECT count(*) FROM product_variants v ANTI JOIN products p USING (product_id)",
        "event user": "SELECT count(*) FROM events e ANTI JOIN users u USING (user_id)",
        "event product": "SELECT count(*) FROM events e ANTI JOIN products p USING (product_id)",
        "payment of another user": """SELECT count(*) FROM payments p JOIN orders o USING (order_id)
            JOIN payment_methods m USING (payment_method_id) WHERE m.user_id <> o.user_id""",
        "payment method missing": """SELECT count(*) FROM payments p
            ANTI JOIN payment_methods m USING (payment_method_id)""",
        "assignment user": "SELECT count(*) FROM campaign_assignments a ANTI JOIN users u USING (user_id)",
    }
    for what, sql in orphans.items():
        assert one(shop, sql) == 0, what


def test_nothing_happens_before_sign_up_or_after_the_end(shop, small_shop):
    assert one(shop, """SELECT count(*) FROM events e JOIN users u USING (user_id)
        WHERE e.ts < u.signup_at""") == 0
    assert one(shop, "SELECT count(*) FROM orders o JOIN users u USING (user_id) WHERE o.ordered_at < u.signup_at") == 0
    end = pd.Timestamp(small_shop.synthetic_end) + pd.Timedelta(days=1)
    assert one(shop, "SELECT max(ts) FROM events") < end
    assert one(shop, "SELECT max(ordered_at) FROM orders") < end


def test_totals_payments_and_shipments_agree_with_lines(shop):
    assert one(shop, """SELECT count(*) FROM orders o JOIN (SELECT order_id, sum(quantity * unit_price) s
        FROM order_items GROUP BY 1) l USING (order_id) WHERE abs(o.total - l.s) > 0.005""") == 0
    assert one(shop, """SELECT count(*) FROM orders o JOIN payments p USING (order_id)
        WHERE p.transaction_type = 'payment' AND abs(p.amount - o.total) > 0.005""") == 0
    refunds = shop.execute("""SELECT o.status, count(p.order_id) FROM orders o LEFT JOIN payments p
        ON p.order_id = o.order_id AND p.transaction_type = 'refund' GROUP BY ALL""").fetchall()
    for status, count in refunds:
        assert (count > 0) == (status == "cancelled"), status
    shipped = shop.execute("""SELECT o.order_id, o.status, list(f.item_ids) FROM orders o
        LEFT JOIN fulfillments f USING (order_id) GROUP BY ALL""").fetchall()
    items = shop.execute("SELECT order_id, list(item_id) FROM order_items GROUP BY 1").fetchall()
    items = {order: sorted(ids) for order, ids in items}
    for order, status, parcels in shipped:
        parcels = [p for p in parcels if p is not None]
        if status in ("processed", "delivered"):
            assert sorted(i for p in parcels for i in json.loads(p)) == items[order]
        else:
            assert parcels == [], (order, status)


def test_status_follows_order_age(shop):
    ages = dict(shop.execute("""SELECT status, max(date_diff('hour', ordered_at,
        (SELECT max(ts) FROM events)) / 24) FROM orders GROUP BY 1""").fetchall())
    assert ages["pending"] < 2 < ages["delivered"]
    assert ages["processed"] < 6


def test_purchases_match_order_lines(shop):
    assert one(shop, "SELECT count(*) FROM events WHERE event_type = 'purchase'") == one(
        shop, "SELECT count(*) FROM order_items")
    assert one(shop, """SELECT count(*) FROM (SELECT user_id, product_id, sum(quantity) q FROM events
        WHERE event_type = 'purchase' GROUP BY ALL) e FULL JOIN (SELECT user_id, product_id,
        sum(quantity) q FROM order_items JOIN orders USING (order_id) GROUP BY ALL) o
        USING (user_id, product_id) WHERE e.q IS DISTINCT FROM o.q""") == 0


def test_popularity_is_zipf_like(shop):
    counts = np.array(sorted((r[0] for r in shop.execute(
        "SELECT count(*) FROM events GROUP BY product_id").fetchall()), reverse=True))
    top = counts[: max(1, len(counts) // 10)].sum() / counts.sum()
    assert top > 0.3  # uniform would give 0.1


def test_funnel_narrows_from_views_to_purchases(shop):
    n = dict(shop.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall())
    assert n["view"] > n["click"] > n["cart"] > n["purchase"] > 0
    assert one(shop, """SELECT count(*) FROM events p WHERE event_type = 'purchase' AND NOT EXISTS (
        SELECT 1 FROM events c WHERE c.event_type = 'cart' AND c.session_id = p.session_id
        AND c.product_id = p.product_id AND c.ts <= p.ts)""") == 0


def test_weekly_seasonality_is_visible(shop):
    by_day = dict(shop.execute("SELECT isodow(ts), count(*) FROM events GROUP BY 1").fetchall())
    assert by_day[7] > 1.15 * by_day[5]  # Sunday vs Friday (weekly pattern 1.14 vs 0.86)


def test_december_is_the_busiest_month(year):
    monthly = year["events"].groupby(year["events"]["ts"].dt.month).size()
    assert monthly.idxmax() == 12
    assert monthly[12] > 1.3 * monthly[7]


def test_repeat_buyers_and_churners_exist(year):
    lines = year["order_items"].merge(year["orders"][["order_id", "user_id"]], on="order_id")
    repeats = lines.groupby(["user_id", "product_id"])["order_id"].nunique()
    buyers = lines["user_id"].nunique()
    assert (repeats >= 2).groupby(level=0).any().sum() > 0.05 * buyers

    events = year["events"]
    last_seen = events.groupby("user_id")["ts"].max()
    end = events["ts"].max()
    long_gone = (end - last_seen).dt.days > 120
    assert long_gone.mean() > 0.1  # customers whose activity stopped
    signups = year["users"]["signup_at"]
    assert (signups > events["ts"].min() + pd.Timedelta(days=180)).mean() > 0.2  # new arrivals


def test_campaign_arms_are_balanced(year):
    arms = year["campaign_assignments"]["arm"].value_counts(normalize=True)
    assert set(arms.index) == {"control", "email", "coupon"}
    assert (arms - 1 / 3).abs().max() < 0.04


def test_observed_lift_matches_mean_true_uplift(year):
    a = year["campaign_assignments"]
    control = a.loc[a["arm"] == "control", "conversion"]
    for arm in ("email", "coupon"):
        treated = a[a["arm"] == arm]
        lift = treated["conversion"].mean() - control.mean()
        se = np.sqrt(treated["conversion"].var() / len(treated) + control.var() / len(control))
        assert abs(lift - treated["true_uplift"].mean()) < 3.5 * se, arm
    assert (a.loc[a["arm"] == "control", "true_uplift"] == 0).all()


def test_each_arm_converts_at_its_baseline_plus_true_uplift(year_shop):
    a = year_shop.tables["campaign_assignments"]
    expected = year_shop.baseline.loc[a["user_id"]].to_numpy() + a["true_uplift"].to_numpy()
    for arm in ("control", "email", "coupon"):
        rows = (a["arm"] == arm).to_numpy()
        p = expected[rows]
        z = (a["conversion"].to_numpy()[rows].sum() - p.sum()) / np.sqrt((p * (1 - p)).sum())
        assert abs(z) < 3.5, arm


def test_true_uplift_is_heterogeneous_and_explained_by_covariates(year):
    a = year["campaign_assignments"]
    email = a[a["arm"] == "email"]
    assert (email["true_uplift"] < 0).mean() > 0.01  # a do-not-disturb group
    assert (email["true_uplift"] > 0.03).mean() > 0.05
    x = pd.DataFrame([json.loads(c) for c in email["covariates"]])
    heavy = x["sessions_30d"].to_numpy() >= 6
    assert email["true_uplift"].to_numpy()[heavy].mean() < 0 < email["true_uplift"].to_numpy()[~heavy].mean()


def test_campaign_conversions_are_orders_in_the_window(year):
    a, orders, campaign = year["campaign_assignments"], year["orders"], year["campaigns"].iloc[0]
    window = orders[(orders["ordered_at"] >= campaign["started_at"])
                    & (orders["ordered_at"] < campaign["ended_at"])]
    converted = a[a["conversion"]].set_index("user_id")["spend"]
    spend = window.groupby("user_id")["total"].sum().reindex(converted.index, fill_value=0.0)
    # a session late on the last day may check out after midnight: allow a few such edge cases
    assert (np.abs(spend - converted) < 0.01).mean() > 0.98
    assert (a.loc[~a["conversion"], "spend"] == 0).all()
    assert not (a["conversion"] & ~a["visit"]).any()


@pytest.mark.parametrize("key, value, message", [
    ("synthetic_days", 30, "synthetic_days=30 is too short"),
    ("synthetic_users", 0, "synthetic_users must be between"),
    ("synthetic_products", 0, "synthetic_products must be between"),
    ("synthetic_end", "31/10/2026", "synthetic_end must be a date"),
])
def test_bad_sizes_are_refused_with_the_key_to_change(settings, key, value, message):
    with pytest.raises(SettingsError, match=message):
        generate(settings.model_copy(update={key: value}))


def test_cli_refuses_a_too_short_history_with_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "--set", "warehouse_dir=wh", "--set",
         "synthetic_days=30", "data", "import", "synthetic"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin",
             "COLUMNS": "200"})
    assert done.returncode == 2
    assert "error: synthetic_days=30 is too short" in done.stderr
    assert "use synthetic_days >= 63" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "wh" / "synthetic.duckdb").exists()


def test_tiny_shop_still_builds(settings):
    tables = generate(settings.model_copy(update={"synthetic_users": 1, "synthetic_products": 1,
                                                  "synthetic_days": 63})).tables
    assert len(tables["users"]) == 1 and len(tables["products"]) == 1


def test_closed_form_session_and_purchase_chances_match_the_simulation():
    """The campaign's true uplift relies on these two formulas being exact."""
    from knowledge.synthetic import behaviour
    from knowledge.synthetic.catalogue import make_catalogue
    from knowledge.synthetic.common import rng_for
    from knowledge.synthetic.timeline import Timeline

    timeline = Timeline.ending(pd.Timestamp("2026-10-31").date(), 90)
    catalogue = make_catalogue(60, rng_for(0, "catalogue"))
    signup = rng_for(0, "signup").integers(-300, 90, size=20000)
    traits = behaviour.draw_traits(signup, catalogue, rng_for(0, "traits"))
    activity = behaviour.simulate(timeline, catalogue, traits, rng_for(0, "sessions"))
    poisson = (activity.sessions["kind"] != "signup").to_numpy()
    sessions = activity.sessions[poisson]
    window = ((sessions["day"] >= 50) & (sessions["day"] < 64)).sum()
    expected = behaviour.expected_sessions(traits, timeline.intensity, 50, 64).sum()
    assert abs(window - expected) < 4 * np.sqrt(expected)
    bought = behaviour.purchased_sessions(activity)[poisson].sum()
    chance = behaviour.purchase_probability(traits)[sessions["user"].to_numpy()]
    assert abs(bought - chance.sum()) < 4 * np.sqrt((chance * (1 - chance)).sum())
