"""A tiny hand-made warehouse for the behaviour tests: three users, known events."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from knowledge import warehouse

CUTOFF = datetime(2024, 3, 1)

PRODUCTS = [("p1", "Red Mug", "kitchen", 4.5), ("p2", "Blue Lamp", "home", 20.0),
            ("p3", "Tea Towel", "kitchen", 3.0)]

# user, product, category, type, ts, session, qty, price
EVENTS = [
    ("u1", "p1", "kitchen", "purchase", datetime(2024, 1, 10, 9), "o1", 2, 4.5),
    ("u1", "p2", "home", "purchase", datetime(2024, 1, 10, 9), "o1", 1, 20.0),
    ("u1", "p3", "kitchen", "purchase", datetime(2024, 2, 20, 15), "o2", 4, 3.0),
    ("u1", "p2", "home", "view", datetime(2024, 2, 28, 8), "s1", None, None),
    ("u2", "p2", "home", "view", datetime(2024, 2, 1, 12), "s2", None, None),
    ("u2", "p2", "home", "cart", datetime(2024, 2, 1, 12, 5), "s2", None, None),
    ("u3", "p1", "kitchen", "purchase", datetime(2023, 11, 5), "o3", 1, 4.5),
    # after the cutoff: must never change features, only labels
    ("u1", "p1", "kitchen", "purchase", datetime(2024, 3, 10), "o4", 5, 4.5),
    ("u2", "p3", "kitchen", "purchase", datetime(2024, 3, 20), "o5", 1, 3.0),
    ("u2", "p1", "kitchen", "view", datetime(2024, 3, 2), "s3", None, None),
    ("u4", "p1", "kitchen", "purchase", datetime(2024, 3, 5), "o6", 1, 4.5),
]


def build_tiny_warehouse(path: Path, events: list[tuple] = EVENTS) -> Path:
    with warehouse.atomic_update(path) as con:
        con.executemany("INSERT INTO products VALUES (?, ?, NULL, ?, ?)", PRODUCTS)
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", events)
    return path


def random_shop_events(n_users: int = 150, days: int = 200, seed: int = 0) -> list[tuple]:
    """Users with a personal, slowly changing purchase rate: past activity predicts the future,
    so a model that reads history must beat chance."""
    import numpy as np

    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1)
    events = []
    for u in range(n_users):
        rate = rng.gamma(0.6, 0.05)  # purchases per day
        for day in range(days):
            if rng.random() < min(rate, 0.9):
                p = PRODUCTS[rng.integers(len(PRODUCTS))]
                ts = start + timedelta(days=day, hours=int(rng.integers(8, 20)))
                events.append((f"u{u}", p[0], p[2], "view", ts, f"s{u}-{day}", None, None))
                events.append((f"u{u}", p[0], p[2], "purchase", ts + timedelta(minutes=5),
                               f"o{u}-{day}", int(rng.integers(1, 4)), p[3]))
            rate *= 0.995 if rng.random() < 0.5 else 1.0
    return events
