"""Customers (names, tau-bench style ids, addresses, sign-up dates) and their payment methods."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from knowledge.synthetic.common import unique_numbers
from knowledge.synthetic.timeline import Timeline
from knowledge.synthetic.words import CARD_BRANDS, COUNTRIES, FIRST_NAMES, LAST_NAMES, STREETS

EXISTING_SHARE = 0.4  # customers who signed up before the history starts
GROWTH = 0.8  # new sign-ups per day grow by a factor e**GROWTH over the history
LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass
class Customers:
    users: pd.DataFrame  # users table
    payment_methods: pd.DataFrame  # payment_methods table
    signup_day: np.ndarray  # day index of sign-up (negative: before the history starts)


def _signup_days(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    existing = rng.random(n) < EXISTING_SHARE
    before = -rng.integers(1, 731, size=n)
    u = rng.random(n)
    during = np.floor(np.log1p(u * np.expm1(GROWTH)) / GROWTH * days).astype(int)
    return np.where(existing, before, np.minimum(during, days - 1))


def _user_ids(rng: np.random.Generator, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """`emma_wilson_1042`: unique, redrawing the number where a name+number repeats."""
    ids = np.empty(len(first), dtype=object)
    taken: set[str] = set()
    for i, (f, l) in enumerate(zip(first, last)):
        while (candidate := f"{f.lower()}_{l.lower()}_{rng.integers(1000, 10000)}") in taken:
            pass
        taken.add(candidate)
        ids[i] = candidate
    return ids


def _zip(rng: np.random.Generator, prefix: str, pattern: str) -> str:
    chars = [str(rng.integers(10)) if c == "#" else LETTERS[rng.integers(len(LETTERS))]
             if c.isalpha() else c for c in pattern]
    return prefix + "".join(chars)


def _addresses(rng: np.random.Generator, n: int) -> pd.DataFrame:
    names = list(COUNTRIES)
    shares = np.array([COUNTRIES[c][0] for c in names])
    country = rng.choice(len(names), size=n, p=shares / shares.sum())
    rows = []
    for c in country:
        _, cities, pattern = COUNTRIES[names[c]]
        city, state, prefix = cities[rng.integers(len(cities))]
        rows.append({
            "address1": f"{rng.integers(10, 1000)} {STREETS[rng.integers(len(STREETS))]}",
            "address2": f"Suite {rng.integers(100, 1000)}" if rng.random() < 0.6 else "",
            "city": city, "state": state, "zip": _zip(rng, prefix, pattern),
            "country": names[c],
        })
    return pd.DataFrame(rows)


def _payment_methods(rng: np.random.Generator, user_ids: np.ndarray) -> pd.DataFrame:
    """Every customer has a card or PayPal (or both); some also hold a gift card."""
    n = len(user_ids)
    card = rng.random(n) < 0.8
    paypal = (rng.random(n) < 0.4) | ~card
    gift = rng.random(n) < 0.25
    numbers = iter(unique_numbers(rng, int(card.sum() + paypal.sum() + gift.sum()), 7))
    rows = []
    for i, user in enumerate(user_ids):
        if card[i]:
            rows.append({"payment_method_id": f"credit_card_{next(numbers)}", "user_id": user,
                         "source": "credit_card", "brand": CARD_BRANDS[rng.integers(len(CARD_BRANDS))],
                         "last_four": f"{rng.integers(10000):04d}", "balance": None})
        if paypal[i]:
            rows.append({"payment_method_id": f"paypal_{next(numbers)}", "user_id": user,
                         "source": "paypal", "brand": None, "last_four": None, "balance": None})
        if gift[i]:
            rows.append({"payment_method_id": f"gift_card_{next(numbers)}", "user_id": user,
                         "source": "gift_card", "brand": None, "last_four": None,
                         "balance": float(rng.integers(0, 200))})
    return pd.DataFrame(rows)


def make_customers(n_users: int, timeline: Timeline, rng: np.random.Generator) -> Customers:
    first = np.array(FIRST_NAMES)[rng.integers(len(FIRST_NAMES), size=n_users)]
    last = np.array(LAST_NAMES)[rng.integers(len(LAST_NAMES), size=n_users)]
    user_ids = _user_ids(rng, first, last)
    signup_day = _signup_days(rng, n_users, timeline.days)
    seconds = rng.integers(7 * 3600, 23 * 3600, size=n_users)
    users = pd.DataFrame({
        "user_id": user_ids, "first_name": first, "last_name": last,
        "email": [f"{f.lower()}.{l.lower()}{rng.integers(1000, 10000)}@example.com"
                  for f, l in zip(first, last)],
    })
    users = pd.concat([users, _addresses(rng, n_users)], axis=1)
    users["signup_at"] = timeline.at(signup_day, seconds)
    return Customers(users, _payment_methods(rng, user_ids), signup_day)


def signed_up_before_first_visit(users: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Move a sign-up that falls after the customer's first event (same day, later hour) to
    a few minutes before it."""
    first = events.groupby("user_id")["ts"].min().reindex(users["user_id"]).to_numpy()
    earlier = first - np.timedelta64(5, "m")
    signup = users["signup_at"].to_numpy()
    return users.assign(signup_at=np.where(earlier < signup, earlier, signup))
