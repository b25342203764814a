"""Customer behaviour: who is active when, and what they do in a session.

Each customer has hidden traits (`Traits`): a visit rate, a lifetime after which activity
stops for good (churn, a constant hazard per customer), category affinities, how often a
click turns into a cart, how often a cart is checked out, and, for repeat buyers, a few
staple products they come back to buy again. Sessions are a Poisson process in time whose
intensity is the customer's rate x the shop's daily traffic (weekly and yearly seasonality).

A browse session picks a focus category (affinity x the category's season), views
1 + Poisson(EXTRA_VIEWS) products (Zipf popularity, mostly in the focus category), clicks some,
carts some of the clicks and checks out the cart with the customer's checkout probability.
A replenish session goes straight to a staple product. Because every step is an independent
draw, the chance that a session ends in a purchase has a closed form (`purchase_probability`),
which the campaign uses to state its true effect exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from knowledge.synthetic.catalogue import Catalogue
from knowledge.synthetic.common import pick_weighted
from knowledge.synthetic.timeline import Timeline

EXTRA_VIEWS = 3.0  # views per browse session beyond the first (Poisson mean)
CLICK = 0.35  # P(click | view)
FAV = 0.08  # P(fav | click)
IN_FOCUS = 0.8  # share of views inside the session's focus category
REPLENISH_CART = 0.85  # P(cart | replenish session)
REPEAT_BUYER_SHARE = 0.3
STAPLE_CATEGORIES = ("beauty", "pet supplies", "kitchen", "stationery")
# evening-heavy time of day, hours 0..23
HOURS = np.array([0.3, 0.15, 0.1, 0.08, 0.08, 0.15, 0.4, 0.8, 1.1, 1.2, 1.2, 1.3,
                  1.5, 1.4, 1.2, 1.2, 1.3, 1.5, 1.8, 2.2, 2.5, 2.3, 1.6, 0.8])


@dataclass
class Traits:
    rate: np.ndarray  # sessions per day at traffic intensity 1
    active_from: np.ndarray  # first day the customer can have a session
    joined: np.ndarray  # signed up during the history: a first (sign-up) session on active_from
    active_to: np.ndarray  # first day after churn (may lie beyond the history)
    affinity: np.ndarray  # customers x categories, rows sum to 1
    cart: np.ndarray  # P(cart | click)
    checkout: np.ndarray  # P(checkout | a cart)
    replenish: np.ndarray  # share of sessions that re-buy a staple (0 for most)
    staples: np.ndarray  # customers x 2 product indices


@dataclass
class Activity:
    """Sessions (one row each) and the product views inside them (one row each)."""

    # user, day, second, kind (signup | browse | replenish | campaign | visit), checkout, discount
    sessions: pd.DataFrame
    views: pd.DataFrame  # session, product, variant, clicked, faved, carted, quantity


def draw_traits(signup_day: np.ndarray, catalogue: Catalogue, rng: np.random.Generator) -> Traits:
    n, k = len(signup_day), len(catalogue.categories)
    lifetime = rng.lognormal(np.log(240), 0.8, size=n)
    active_from = np.maximum(signup_day, 0)
    staple_pool = np.flatnonzero(np.isin(np.array(catalogue.categories)[catalogue.category],
                                         STAPLE_CATEGORIES))
    if len(staple_pool) == 0:
        staple_pool = np.arange(len(catalogue.category))
    weights = catalogue.popularity[staple_pool] / catalogue.popularity[staple_pool].sum()
    repeat = rng.random(n) < REPEAT_BUYER_SHARE
    return Traits(
        rate=rng.lognormal(np.log(0.07), 0.8, size=n),
        active_from=active_from,
        joined=signup_day >= 0,
        active_to=active_from + np.ceil(rng.exponential(lifetime)).astype(int),
        affinity=rng.dirichlet(np.full(k, 0.35), size=n),
        cart=rng.beta(3, 6, size=n),
        checkout=rng.beta(6, 4, size=n),
        replenish=np.where(repeat, rng.beta(2, 5, size=n), 0.0),
        staples=staple_pool[rng.choice(len(staple_pool), size=(n, 2), p=weights)],
    )


def purchase_probability(traits: Traits) -> np.ndarray:
    """P(a session of this customer ends in a purchase), exactly, per customer."""
    c = CLICK * traits.cart
    any_cart = 1 - (1 - c) * np.exp(-EXTRA_VIEWS * c)  # V = 1 + Poisson: E[(1-c)^V]
    return traits.checkout * ((1 - traits.replenish) * any_cart + traits.replenish * REPLENISH_CART)


def expected_sessions(traits: Traits, intensity: np.ndarray, first: int, stop: int) -> np.ndarray:
    """Expected number of sessions per customer on days first..stop-1."""
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    lo = np.clip(traits.active_from, first, stop)
    hi = np.clip(traits.active_to, first, stop)
    return traits.rate * (cumulative[np.maximum(hi, lo)] - cumulative[lo])


def _pick_products(rng: np.random.Generator, catalogue: Catalogue, category: np.ndarray) -> np.ndarray:
    """One product per view: in `category` by popularity, or (1 - IN_FOCUS) anywhere."""
    out = np.empty(len(category), dtype=int)
    anywhere = (rng.random(len(category)) > IN_FOCUS) | (category < 0)
    groups = [(np.flatnonzero(anywhere), np.arange(len(catalogue.category)))]
    for c in range(len(catalogue.categories)):
        groups.append((np.flatnonzero(~anywhere & (category == c)),
                       np.flatnonzero(catalogue.category == c)))
    for rows, members in groups:
        if len(rows):
            cumulative = np.cumsum(catalogue.popularity[members])
            draws = rng.random(len(rows)) * cumulative[-1]
            out[rows] = members[np.minimum(np.searchsorted(cumulative, draws), len(members) - 1)]
    return out


def pick_variant(rng: np.random.Generator, catalogue: Catalogue, product: np.ndarray) -> np.ndarray:
    """A random available variant (row of catalogue.variants) of each product."""
    offset = np.floor(rng.random(len(product)) * catalogue.available_count[product]).astype(int)
    return catalogue.available_start[product] + offset


def build_views(rng: np.random.Generator, catalogue: Catalogue, traits: Traits,
                sessions: pd.DataFrame, focus: np.ndarray, force_cart: bool = False) -> pd.DataFrame:
    """Views of the given sessions. `focus` is the focus category per session, or -1 for a
    replenish session (one view of a staple). `force_cart` makes the first view of every
    session a click and a cart (sessions that are known to end in a purchase)."""
    user = sessions["user"].to_numpy()
    replenish = focus < 0
    n_views = np.where(replenish, 1, 1 + rng.poisson(EXTRA_VIEWS, size=len(sessions)))
    session = np.repeat(sessions.index.to_numpy(), n_views)
    row = np.repeat(np.arange(len(sessions)), n_views)
    first = np.concatenate([[True], row[1:] != row[:-1]]) if len(row) else np.zeros(0, bool)
    product = _pick_products(rng, catalogue, focus[row])
    staple = traits.staples[user[row], rng.integers(2, size=len(row))]
    product = np.where(replenish[row], staple, product)
    click_p = np.where(replenish[row], 1.0, CLICK)
    cart_p = np.where(replenish[row], REPLENISH_CART, traits.cart[user[row]])
    clicked = rng.random(len(row)) < click_p
    carted = clicked & (rng.random(len(row)) < cart_p)
    if force_cart:
        clicked |= first
        carted |= first
    quantity = 1 + rng.binomial(2, 0.12, size=len(row))
    return pd.DataFrame({
        "session": session, "product": product, "variant": pick_variant(rng, catalogue, product),
        "clicked": clicked, "faved": clicked & (rng.random(len(row)) < FAV), "carted": carted,
        "quantity": quantity,
    })


def draw_focus(rng: np.random.Generator, catalogue: Catalogue, traits: Traits, user: np.ndarray,
               month: np.ndarray) -> np.ndarray:
    """Focus category of a browse session: affinity x the category's season."""
    stocked = np.bincount(catalogue.category, minlength=len(catalogue.categories)) > 0
    return pick_weighted(rng, traits.affinity[user] * catalogue.season[:, month].T * stocked)


def seconds_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = rng.choice(24, size=n, p=HOURS / HOURS.sum())
    return hour * 3600 + rng.integers(0, 3600, size=n)


def simulate(timeline: Timeline, catalogue: Catalogue, traits: Traits,
             rng: np.random.Generator) -> Activity:
    """Every organic session of every customer over the whole history: the Poisson sessions
    plus, for customers who sign up during it, a first session on the sign-up day (outside
    the campaign window for everyone in the campaign, so it does not change p0)."""
    intensity = timeline.intensity
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    counts = rng.poisson(expected_sessions(traits, intensity, 0, timeline.days))
    user = np.repeat(np.arange(len(counts)), counts)
    lo = cumulative[np.clip(traits.active_from, 0, timeline.days)][user]
    hi = cumulative[np.clip(traits.active_to, 0, timeline.days)][user]
    day = np.searchsorted(cumulative, lo + rng.random(len(user)) * (hi - lo), side="right") - 1
    newcomers = np.flatnonzero(traits.joined)
    signup = np.concatenate([np.zeros(len(user), bool), np.ones(len(newcomers), bool)])
    user = np.concatenate([user, newcomers])
    day = np.clip(np.concatenate([day, traits.active_from[newcomers]]), 0, timeline.days - 1)
    seconds = seconds_of_day(rng, len(user))
    order = np.lexsort((seconds, day))
    user, day, seconds, signup = user[order], day[order], seconds[order], signup[order]
    replenish = ~signup & (rng.random(len(user)) < traits.replenish[user])
    sessions = pd.DataFrame({
        "user": user, "day": day, "second": seconds,
        "kind": np.select([signup, replenish], ["signup", "replenish"], "browse"),
        "checkout": rng.random(len(user)) < traits.checkout[user],
        "discount": 1.0,
    })
    focus = draw_focus(rng, catalogue, traits, user, timeline.months[day])
    focus[replenish] = -1
    return Activity(sessions, build_views(rng, catalogue, traits, sessions, focus))


def purchased_sessions(activity: Activity) -> np.ndarray:
    """Boolean per session: checked out with at least one product in the cart."""
    has_cart = np.zeros(len(activity.sessions), dtype=bool)
    carted = activity.views.loc[activity.views["carted"], "session"].to_numpy()
    has_cart[activity.sessions.index.get_indexer(np.unique(carted))] = True
    return has_cart & activity.sessions["checkout"].to_numpy()
