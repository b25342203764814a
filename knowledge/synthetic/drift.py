"""An optional drift that starts on a known day: a category takes off (default off).

From `Drift.start` on, every customer who has signed up gets extra browse sessions focused on
`Drift.category`: a Poisson process with rate `Drift.rate` x their affinity for the category x
the daily traffic. With `reactivates` (the default) customers who had churned come back for it
too, so the drift changes who buys, not only how much: lapsed customers who like the category
start buying again, which a model trained before the start has never seen.

The extra sessions are drawn from their own random stream and timed by their own clock, and
only on days >= start, so the events before the start are exactly those of the same shop
without the drift (same seed): a drifted shop and its control share their history up to the
start. Used by `bench/drift_simulation.py`; `generate(settings)` without a drift produces the
default shop unchanged. The campaign's stated effects (`true_uplift`, p0) ignore these sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from knowledge.synthetic import behaviour
from knowledge.synthetic.behaviour import Activity, Traits
from knowledge.synthetic.catalogue import Catalogue
from knowledge.synthetic.events import Clock, clock
from knowledge.synthetic.timeline import Timeline


@dataclass(frozen=True)
class Drift:
    start: date  # first day with the extra sessions
    category: str  # the category that takes off (a name from the catalogue)
    rate: float = 0.2  # extra sessions per day at traffic 1 for affinity 1 (affinities sum to 1)
    reactivates: bool = True  # churned customers come back for the category too
    checkout: float = 0.0  # from the start, a cart holding the category is checked out with at
    # least this probability (a price cut: it changes who buys, not only how often they visit)


def extra_sessions(drift: Drift, timeline: Timeline, catalogue: Catalogue, traits: Traits,
                   first_label: int, rng: np.random.Generator) -> Activity:
    """The drift's sessions (labels from `first_label` on) and their views."""
    if drift.category not in catalogue.categories:
        raise ValueError(f"drift category {drift.category!r} is not in the catalogue: "
                         f"{', '.join(catalogue.categories)}")
    first = (drift.start - timeline.start.date()).days
    if not 0 <= first < timeline.days:
        raise ValueError(f"drift start {drift.start} is outside the history "
                         f"{timeline.start:%Y-%m-%d} .. {timeline.end:%Y-%m-%d}")
    k = catalogue.categories.index(drift.category)
    cumulative = np.concatenate([[0.0], np.cumsum(timeline.intensity)])
    lo_day = np.clip(np.maximum(traits.active_from, first), 0, timeline.days)
    hi_day = np.full(len(lo_day), timeline.days) if drift.reactivates else np.clip(
        np.maximum(traits.active_to, lo_day), 0, timeline.days)
    lo, hi = cumulative[lo_day], cumulative[hi_day]
    counts = rng.poisson(drift.rate * traits.affinity[:, k] * (hi - lo))
    user = np.repeat(np.arange(len(counts)), counts)
    day = np.searchsorted(cumulative, lo[user] + rng.random(len(user)) * (hi - lo)[user],
                          side="right") - 1
    day = np.clip(day, first, timeline.days - 1)
    seconds = behaviour.seconds_of_day(rng, len(user))
    order = np.lexsort((seconds, day))
    user, day, seconds = user[order], day[order], seconds[order]
    sessions = pd.DataFrame({
        "user": user, "day": day, "second": seconds, "kind": "browse",
        "checkout": rng.random(len(user)) < traits.checkout[user], "discount": 1.0,
    }, index=pd.RangeIndex(first_label, first_label + len(user)))
    focus = np.full(len(user), k)
    return Activity(sessions, behaviour.build_views(rng, catalogue, traits, sessions, focus))


def with_drift(drift: Drift, activity: Activity, times: Clock, timeline: Timeline,
               catalogue: Catalogue, traits: Traits, rng: np.random.Generator,
               clock_rng: np.random.Generator) -> tuple[Activity, Clock]:
    """`activity` and its clock with the drift's sessions appended (timed by `clock_rng`), so
    that every earlier draw stays what it was."""
    added = extra_sessions(drift, timeline, catalogue, traits,
                           int(activity.sessions.index.max()) + 1, rng)
    added_times = clock(added, timeline, clock_rng)
    merged = Activity(pd.concat([activity.sessions, added.sessions]),
                      pd.concat([activity.views, added.views], ignore_index=True))
    if drift.checkout > 0:
        merged = _buy_the_category(drift, merged, timeline, catalogue, rng)
    return merged, Clock(*(np.concatenate([getattr(times, f), getattr(added_times, f)])
                           for f in ("view", "click", "fav", "cart", "checkout")))


def _buy_the_category(drift: Drift, activity: Activity, timeline: Timeline, catalogue: Catalogue,
                      rng: np.random.Generator) -> Activity:
    """Sessions from the start on with the category in the cart check out with probability at
    least `drift.checkout` (the clock is unchanged: it times every session's checkout)."""
    first = (drift.start - timeline.start.date()).days
    k = catalogue.categories.index(drift.category)
    views = activity.views
    in_cart = views.loc[views["carted"].to_numpy()
                        & (catalogue.category[views["product"].to_numpy()] == k), "session"]
    sessions = activity.sessions.copy()
    candidate = (sessions.index.isin(in_cart.unique()) & (sessions["day"].to_numpy() >= first)
                 & ~sessions["checkout"].to_numpy())
    sessions.loc[candidate, "checkout"] = rng.random(int(candidate.sum())) < drift.checkout
    return Activity(sessions, views)
