"""A randomised e-mail / coupon test with a known, heterogeneous effect per customer.

Every customer who signed up before the start is drawn into one arm with equal probability:
`control` (nothing), `email` (a newsletter) or `coupon` (an e-mail with 15% off orders in
the outcome window). The outcome window is OUTCOME_DAYS days from the start.

The true effect on conversion (= at least one purchase in the window) is a function of
pre-treatment covariates only, so an uplift model can learn it (see `true_effect`):

    email  = 0.01 + 0.06 * lapsing + 0.025 * style_buyer - 0.09 * heavy
    coupon = 0.02 + 0.08 * price_sensitive + 0.04 * lapsing - 0.03 * heavy

    lapsing         = exp(-((recency_days - 75) / 40)^2): last order about 1-4 months ago
    style_buyer     = top category is apparel, beauty or home decor
    price_sensitive = 1 / (1 + exp((avg_order_value - 40) / 12)), 0.5 for never-buyers
    heavy           = sessions_30d >= HEAVY_SESSIONS: very active customers who find
                      marketing mail a nuisance; their effect is negative (do-not-disturb)

then clipped to [-p0, 1 - p0], where p0 is the customer's exact probability of converting
without treatment (from the behaviour model: Poisson sessions x per-session purchase chance
over the days they are still active in the window). The stored `true_uplift` is that
clipped value, so P(convert | arm) - P(convert | control) = true_uplift holds exactly.

Outcomes are produced inside the behaviour simulation, so they show up as sessions, events
and orders: a treated customer with a positive effect who would not have bought converts
with probability tau / (1 - p0) (an extra campaign session that ends in a purchase); one
with a negative effect who would have bought drops all purchases in the window with
probability |tau| / p0 (carts abandoned). Treated customers also make extra visit-only
sessions (VISIT_LIFT). Coupon-arm orders in the window are 15% off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from knowledge.synthetic import behaviour
from knowledge.synthetic.behaviour import Activity, Traits
from knowledge.synthetic.catalogue import Catalogue
from knowledge.synthetic.orders import Orders
from knowledge.synthetic.timeline import Timeline

CAMPAIGN_ID = "autumn_reactivation"
ARMS = ("control", "email", "coupon")
PROPENSITY = {arm: 1 / 3 for arm in ARMS}
OUTCOME_DAYS = 14
LEAD_DAYS = 35  # the campaign starts this many days before the end of the history
MIN_HISTORY_DAYS = 28  # history needed before the start for the covariates
COUPON_DISCOUNT = 0.15
HEAVY_SESSIONS = 6
STYLE_CATEGORIES = ("apparel", "beauty", "home decor")
VISIT_LIFT = {"email": 0.10, "coupon": 0.08}
NEVER_BOUGHT_RECENCY = 365


@dataclass
class Campaign:
    campaigns: pd.DataFrame
    # without outcomes: user index, arm, covariates, true_uplift, baseline (p0, not published)
    assignments: pd.DataFrame
    suppressed: np.ndarray  # session labels whose checkout the campaign prevented
    added: Activity  # campaign and visit sessions


def start_day(timeline: Timeline) -> int:
    return timeline.days - LEAD_DAYS


def covariates(activity: Activity, lines: pd.DataFrame, catalogue: Catalogue, n_users: int,
               signup_day: np.ndarray, day0: int) -> pd.DataFrame:
    """Pre-treatment features per customer, from what happened before day `day0`."""
    sessions = activity.sessions
    before = sessions[sessions["day"] < day0]
    line_day = sessions["day"].to_numpy()[sessions.index.get_indexer(lines["session"])]
    line_user = sessions["user"].to_numpy()[sessions.index.get_indexer(lines["session"])]
    paid = lines.assign(user=line_user, day=line_day, value=lines["quantity"] * lines["unit_price"])
    paid = paid[paid["day"] < day0]
    per_order = paid.groupby(["user", "session"]).agg(day=("day", "first"), value=("value", "sum"))
    recent = per_order[per_order["day"] >= day0 - 180].groupby("user")
    all_orders = per_order.groupby("user")
    index = pd.RangeIndex(n_users)
    last_order = all_orders["day"].max().reindex(index)
    bought_in = paid.assign(category=catalogue.category[paid["product"]]).groupby(["user", "category"]).size()
    top = (bought_in.reset_index(name="n").sort_values(["user", "n"], ascending=[True, False], kind="stable")
           .drop_duplicates("user").set_index("user")["category"])  # most lines; ties: first category
    frame = pd.DataFrame({
        "recency_days": (day0 - last_order).fillna(NEVER_BOUGHT_RECENCY).clip(upper=NEVER_BOUGHT_RECENCY),
        "frequency_180d": recent.size().reindex(index, fill_value=0),
        "monetary_180d": recent["value"].sum().reindex(index, fill_value=0.0).round(2),
        "orders_total": all_orders.size().reindex(index, fill_value=0),
        "avg_order_value": all_orders["value"].mean().reindex(index).round(2),
        "sessions_30d": before[before["day"] >= day0 - 30].groupby("user").size().reindex(index, fill_value=0),
        "days_since_last_visit": (day0 - before.groupby("user")["day"].max().reindex(index))
        .fillna(pd.Series(day0 - np.maximum(signup_day, 0), index=index)),
        "tenure_days": day0 - signup_day,
        "top_category": top.reindex(index).map(lambda c: None if pd.isna(c) else catalogue.categories[int(c)]),
    })
    return frame.astype({"recency_days": int, "days_since_last_visit": int})


def true_effect(x: pd.DataFrame) -> dict[str, np.ndarray]:
    """Unclipped effect of each treated arm on P(conversion); see the module docstring."""
    lapsing = np.exp(-(((x["recency_days"].to_numpy() - 75) / 40) ** 2))
    style = x["top_category"].isin(STYLE_CATEGORIES).to_numpy()
    aov = x["avg_order_value"].to_numpy()
    price_sensitive = np.where(np.isnan(aov), 0.5, 1 / (1 + np.exp((np.nan_to_num(aov) - 40) / 12)))
    heavy = x["sessions_30d"].to_numpy() >= HEAVY_SESSIONS
    return {
        "email": 0.01 + 0.06 * lapsing + 0.025 * style - 0.09 * heavy,
        "coupon": 0.02 + 0.08 * price_sensitive + 0.04 * lapsing - 0.03 * heavy,
    }


def baseline_conversion(traits: Traits, timeline: Timeline, day0: int) -> np.ndarray:
    """Exact P(at least one purchase in the window) without treatment, per customer."""
    stop = min(day0 + OUTCOME_DAYS, timeline.days)
    expected = behaviour.expected_sessions(traits, timeline.intensity, day0, stop)
    return 1 - np.exp(-expected * behaviour.purchase_probability(traits))


def _new_sessions(rng: np.random.Generator, user: np.ndarray, day0: int, timeline: Timeline,
                  first_label: int, kind: str) -> pd.DataFrame:
    """Sessions in the window, most of them in the first days after the mail goes out."""
    offset = np.minimum(rng.geometric(0.25, size=len(user)) - 1, OUTCOME_DAYS - 1)
    return pd.DataFrame({
        "user": user, "day": np.minimum(day0 + offset, timeline.days - 1),
        "second": behaviour.seconds_of_day(rng, len(user)), "kind": kind,
        "checkout": kind == "campaign", "discount": 1.0,
    }, index=pd.RangeIndex(first_label, first_label + len(user)))


def _respond(rng: np.random.Generator, activity: Activity, eligible: np.ndarray, tau: np.ndarray,
             p0: np.ndarray, day0: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn each customer's untreated outcome into the treated one so that
    P(convert | treated) = p0 + tau: with tau < 0 a customer who would have bought abandons
    every purchase in the window with probability |tau| / p0; with tau > 0 one who would not
    have bought converts with probability tau / (1 - p0). Returns the purchasing sessions to
    suppress (labels) and, per eligible customer, whether to add a converting session."""
    sessions = activity.sessions
    in_window = ((sessions["day"] >= day0) & (sessions["day"] < day0 + OUTCOME_DAYS)).to_numpy()
    bought = behaviour.purchased_sessions(activity) & in_window
    converted_anyway = np.isin(eligible, sessions["user"].to_numpy()[bought])
    u = rng.random(len(eligible))
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = (tau < 0) & converted_anyway & (u < -tau / p0)
        add = (tau > 0) & ~converted_anyway & (u < tau / (1 - p0))
    suppressed = sessions.index[bought & np.isin(sessions["user"].to_numpy(), eligible[drop])]
    return suppressed.to_numpy(), add


def run_campaign(activity: Activity, lines: pd.DataFrame, catalogue: Catalogue, traits: Traits,
                 signup_day: np.ndarray, timeline: Timeline, rng: np.random.Generator) -> Campaign:
    day0 = start_day(timeline)
    eligible = np.flatnonzero(signup_day < day0)
    x = covariates(activity, lines, catalogue, len(signup_day), signup_day, day0).iloc[eligible]
    arm = rng.choice(ARMS, size=len(eligible), p=[PROPENSITY[a] for a in ARMS])
    p0 = baseline_conversion(traits, timeline, day0)[eligible]
    effects = true_effect(x)
    tau = np.zeros(len(eligible))
    for name, effect in effects.items():
        tau = np.where(arm == name, np.clip(effect, -p0, 1 - p0), tau)

    suppressed, add = _respond(rng, activity, eligible, tau, p0, day0)
    visit = rng.random(len(eligible)) < pd.Series(arm).map(VISIT_LIFT).fillna(0.0).to_numpy()
    sessions = activity.sessions
    first = int(sessions.index.max()) + 1 if len(sessions) else 0
    buy = _new_sessions(rng, eligible[add], day0, timeline, first, "campaign")
    look = _new_sessions(rng, eligible[visit], day0, timeline, first + len(buy), "visit")
    new = pd.concat([buy, look])
    focus = behaviour.draw_focus(rng, catalogue, traits, new["user"].to_numpy(),
                                 timeline.months[new["day"].to_numpy()])
    views = pd.concat([
        behaviour.build_views(rng, catalogue, traits, buy, focus[: len(buy)], force_cart=True),
        behaviour.build_views(rng, catalogue, traits, look, focus[len(buy):]),
    ], ignore_index=True)

    start = timeline.start + timedelta(days=day0)
    campaigns = pd.DataFrame([{
        "campaign_id": CAMPAIGN_ID, "name": "Autumn reactivation: newsletter vs 15% coupon",
        "channel": "email", "started_at": start, "ended_at": start + timedelta(days=OUTCOME_DAYS),
        "randomized": True, "arms": json.dumps(list(ARMS)), "outcome_window_days": OUTCOME_DAYS,
        "description": (
            "Randomised test: every customer signed up before the start was assigned control, "
            "email (newsletter) or coupon (e-mail with 15% off orders in the window) with "
            "probability 1/3 each. conversion = at least one order in the 14-day window; "
            "true_uplift is the exact effect of the arm received on P(conversion)."),
    }])
    assignments = pd.DataFrame({
        "user": eligible, "arm": arm, "true_uplift": np.round(tau, 6), "baseline": p0,
        "covariates": [json.dumps(r) for r in x.astype(object).where(x.notna(), None).to_dict("records")],
    })
    return Campaign(campaigns, assignments, suppressed, Activity(new, views))


def apply(activity: Activity, campaign: Campaign, timeline: Timeline) -> Activity:
    """The history as it happened with the campaign: suppressed checkouts, extra sessions,
    coupon prices in the window."""
    sessions = pd.concat([activity.sessions, campaign.added.sessions])
    sessions.loc[campaign.suppressed, "checkout"] = False
    day0 = start_day(timeline)
    coupon_users = campaign.assignments.loc[campaign.assignments["arm"] == "coupon", "user"]
    coupon = (sessions["user"].isin(coupon_users) & (sessions["day"] >= day0)
              & (sessions["day"] < day0 + OUTCOME_DAYS))
    sessions.loc[coupon, "discount"] = 1 - COUPON_DISCOUNT
    views = pd.concat([activity.views, campaign.added.views], ignore_index=True)
    return Activity(sessions, views)


def outcomes(campaign: Campaign, activity: Activity, orders: Orders, users: pd.DataFrame,
             timeline: Timeline) -> pd.DataFrame:
    """campaign_assignments rows: the arm and what each customer did in the window. A
    conversion is an order from a session in the window (whatever its later status)."""
    day0 = start_day(timeline)
    sessions = activity.sessions
    window = sessions[(sessions["day"] >= day0) & (sessions["day"] < day0 + OUTCOME_DAYS)]
    in_window = np.isin(orders.session, window.index.to_numpy())
    spend = orders.orders[in_window].groupby("user_id")["total"].sum()
    a = campaign.assignments
    ids = users["user_id"].to_numpy()[a["user"].to_numpy()]
    return pd.DataFrame({
        "campaign_id": CAMPAIGN_ID, "user_id": ids, "arm": a["arm"].to_numpy(),
        "treated": a["arm"].to_numpy() != "control",
        "visit": np.isin(a["user"].to_numpy(), window["user"].to_numpy()),
        "conversion": np.isin(ids, spend.index.to_numpy()),
        "spend": spend.reindex(ids, fill_value=0.0).round(2).to_numpy(),
        "covariates": a["covariates"].to_numpy(), "true_uplift": a["true_uplift"].to_numpy(),
    })
