"""A tiny themed shop for recommendation tests: customers stick to one theme (lanterns, mugs,
candles, scarves) and buy its items again and again, so the right answers are known."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from knowledge import warehouse
from knowledge.settings import Settings

THEMES = {
    "lantern": ["RED PAPER LANTERN", "RED HANGING LANTERN", "WHITE METAL LANTERN",
                "MOROCCAN LANTERN", "GLASS STAR LANTERN", "ZINC LANTERN"],
    "mug": ["BLUE COFFEE MUG", "SPOTTY TEA MUG", "ENAMEL CAMPING MUG", "CERAMIC MUG",
            "TRAVEL MUG", "BONE CHINA MUG"],
    "candle": ["VANILLA SCENTED CANDLE", "PILLAR CANDLE WHITE", "TEA LIGHT CANDLES",
               "BEESWAX CANDLE", "CANDLE IN A JAR", "LAVENDER CANDLE"],
    "scarf": ["WOOL SCARF GREY", "SILK SCARF", "KNITTED SCARF RED", "CASHMERE SCARF",
              "CHECKED SCARF", "FLEECE SCARF"],
}
START = datetime(2026, 1, 1)


def themed_events(n_users: int = 80, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(products, users, events) of the themed shop."""
    rng = np.random.default_rng(seed)
    products = pd.DataFrame(
        [(f"{theme[0].upper()}{i}", title, theme, float(2 + i)) for theme, titles in THEMES.items()
         for i, title in enumerate(titles)],
        columns=["product_id", "title", "category", "price"])
    by_theme = products.groupby("category")["product_id"].apply(list).to_dict()
    users, events = [], []
    for u in range(n_users):
        user = f"u{u:03d}"
        theme = list(THEMES)[u % len(THEMES)]
        users.append((user, "United Kingdom" if u % 2 else "France"))
        favourites = rng.choice(by_theme[theme], 3, replace=False)
        for day in sorted(rng.choice(90, 12, replace=False)):
            pool = favourites if rng.random() < 0.7 else by_theme[theme]
            item = str(rng.choice(pool))
            at = START + timedelta(days=int(day), minutes=int(rng.integers(0, 600)))
            events.append((user, item, theme, "view", at - timedelta(minutes=5), None, None))
            events.append((user, item, theme, "purchase", at, 1, 3.0))
    columns = ["user_id", "product_id", "category", "event_type", "ts", "quantity", "price"]
    return (products, pd.DataFrame(users, columns=["user_id", "country"]),
            pd.DataFrame(events, columns=columns))


def write_themed_shop(path: Path, n_users: int = 80) -> Path:
    from knowledge.importers.base import replace_table

    products, users, events = themed_events(n_users)
    with warehouse.atomic_update(path) as con:
        for table, frame in (("products", products), ("users", users), ("events", events)):
            replace_table(con, table, frame)
        con.execute("INSERT INTO imports VALUES ('themed_test_shop', ?, NULL, NULL)",
                    [datetime(2026, 4, 1)])
    return path


def trained_themed_shop(root: Path, **settings) -> Settings:
    """The themed shop under ``root`` with every recommendation component trained (about 15 s
    on two cores; needs the MiniLM text model)."""
    from finetune.recommend.train import train_recommender

    shop = Settings(shop="themed", warehouse_dir=root / "data", artifacts_dir=root / "artifacts",
                    **settings)
    write_themed_shop(shop.warehouse)
    train_recommender(shop, sasrec_seconds=600, sasrec_epochs=3)  # epochs, not time: repeatable
    return shop
