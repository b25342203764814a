"""Generate a whole synthetic shop: the order in which the parts are drawn, and the tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from knowledge.settings import Settings, SettingsError
from knowledge.synthetic import behaviour, campaign
from knowledge.synthetic.catalogue import make_catalogue
from knowledge.synthetic.common import rng_for
from knowledge.synthetic.customers import make_customers, signed_up_before_first_visit
from knowledge.synthetic.drift import Drift, with_drift
from knowledge.synthetic.events import clock, events_table
from knowledge.synthetic.orders import make_orders, purchase_lines
from knowledge.synthetic.timeline import Timeline

MAX_ROWS = 200_000  # customers or products: order and payment ids have 7 digits


@dataclass
class Shop:
    tables: dict[str, pd.DataFrame]  # warehouse table name -> rows
    # campaign user_id -> exact P(conversion) without treatment (p0); for checks, not stored
    baseline: pd.Series
    notes: list[str] = field(default_factory=list)


def _campaign_notes(assignments: pd.DataFrame) -> list[str]:
    notes = []
    control = assignments[~assignments["treated"]]["conversion"].mean()
    for arm, group in assignments[assignments["treated"]].groupby("arm"):
        notes.append(
            f"campaign arm {arm}: {len(group)} users, observed conversion lift "
            f"{group['conversion'].mean() - control:+.4f} vs control {control:.4f}; "
            f"mean true uplift {group['true_uplift'].mean():+.4f}, "
            f"{(group['true_uplift'] < 0).mean():.1%} of users with a negative effect"
        )
    return notes


def timeline_for(settings: Settings) -> Timeline:
    """The history the settings ask for, or a SettingsError naming the key to change."""
    try:
        last = date.fromisoformat(settings.synthetic_end)
    except ValueError as err:
        raise SettingsError(
            f"synthetic_end must be a date like 2026-10-31, got {settings.synthetic_end!r}") from err
    shortest = campaign.LEAD_DAYS + campaign.MIN_HISTORY_DAYS
    if settings.synthetic_days < shortest:
        raise SettingsError(
            f"synthetic_days={settings.synthetic_days} is too short: the campaign starts "
            f"{campaign.LEAD_DAYS} days before the end and needs {campaign.MIN_HISTORY_DAYS} days "
            f"of history before it; use synthetic_days >= {shortest}")
    for key in ("synthetic_users", "synthetic_products"):
        if not 1 <= getattr(settings, key) <= MAX_ROWS:
            raise SettingsError(f"{key} must be between 1 and {MAX_ROWS:,}, got {getattr(settings, key)}")
    return Timeline.ending(last, settings.synthetic_days)


def generate(settings: Settings, drift: Drift | None = None) -> Shop:
    """The shop the settings describe. `drift` (default none) adds a category that takes off
    on a known day (knowledge/synthetic/drift.py); without it the tables are the default shop's."""
    seed = settings.seed
    timeline = timeline_for(settings)
    catalogue = make_catalogue(settings.synthetic_products, rng_for(seed, "catalogue"))
    customers = make_customers(settings.synthetic_users, timeline, rng_for(seed, "customers"))
    traits = behaviour.draw_traits(customers.signup_day, catalogue, rng_for(seed, "traits"))
    organic = behaviour.simulate(timeline, catalogue, traits, rng_for(seed, "sessions"))
    test = campaign.run_campaign(organic, purchase_lines(organic, catalogue), catalogue, traits,
                                 customers.signup_day, timeline, rng_for(seed, "campaign"))
    activity = campaign.apply(organic, test, timeline)
    times = clock(activity, timeline, rng_for(seed, "clock"))
    if drift is not None:
        activity, times = with_drift(drift, activity, times, timeline, catalogue, traits,
                                     rng_for(seed, "drift"), rng_for(seed, "drift clock"))
    lines = purchase_lines(activity, catalogue)
    orders = make_orders(activity, catalogue, customers.users, customers.payment_methods, lines,
                         times.checkout, np.datetime64(timeline.end, "us"), rng_for(seed, "orders"))
    assignments = campaign.outcomes(test, activity, orders, customers.users, timeline)
    events = events_table(activity, catalogue, customers.users, lines, times)
    tables = {
        "users": signed_up_before_first_visit(customers.users, events),
        "products": catalogue.products,
        "product_variants": catalogue.variants,
        "payment_methods": customers.payment_methods,
        "orders": orders.orders,
        "order_items": orders.order_items,
        "payments": orders.payments,
        "fulfillments": orders.fulfillments,
        "events": events,
        "campaigns": test.campaigns,
        "campaign_assignments": assignments,
    }
    churned = int((traits.active_to < timeline.days).sum())
    notes = [f"history {timeline.start:%Y-%m-%d} .. {timeline.end:%Y-%m-%d} (exclusive), seed {seed}",
             f"{churned} of {len(traits.rate)} customers churn within the history"]
    if drift is not None:
        notes.append(f"drift: {drift.category} takes off on {drift.start} (rate {drift.rate}, "
                     f"reactivates churned customers: {drift.reactivates}, carts holding it "
                     f"bought with probability >= {drift.checkout})")
    baseline = pd.Series(test.assignments["baseline"].to_numpy(), index=assignments["user_id"])
    return Shop(tables, baseline, notes + _campaign_notes(assignments))
