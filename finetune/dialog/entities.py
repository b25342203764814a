"""Real names the training dialogs talk about: ids, titles, countries and categories of the
active shop's warehouse, and the tau-bench retail customers/orders when data_dir has them.
Anything missing is made up from the seed, so a fresh clone still gets data."""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.settings import Settings

TOPICS = ["returns", "refunds", "shipping times", "exchanges", "payment methods",
          "order cancellation", "gift cards", "delivery options", "warranty", "data privacy",
          "coupons", "international shipping", "damaged items", "price matching"]


@dataclass
class Entities:
    user_ids: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    # tau-bench customer-service world
    customers: dict[str, dict] = field(default_factory=dict)
    orders: dict[str, dict] = field(default_factory=dict)
    product_ids: list[str] = field(default_factory=list)
    variants: dict[str, list[str]] = field(default_factory=dict)  # product id -> its item ids


def _warehouse(settings: Settings, ents: Entities, rng: random.Random) -> None:
    import duckdb

    if not settings.warehouse.is_file():
        return
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        ents.user_ids = [r[0] for r in con.execute(
            "SELECT user_id FROM users ORDER BY user_id LIMIT 2000").fetchall()]
        ents.titles = [r[0] for r in con.execute(
            "SELECT title FROM products WHERE length(title) BETWEEN 4 AND 40 ORDER BY product_id "
            "LIMIT 500").fetchall()]
        ents.categories = [r[0] for r in con.execute(
            "SELECT DISTINCT category FROM products WHERE category IS NOT NULL ORDER BY 1"
        ).fetchall()]
        ents.countries = [r[0] for r in con.execute(
            "SELECT DISTINCT country FROM users WHERE country IS NOT NULL ORDER BY 1").fetchall()]
        ents.segments = [r[0] for r in con.execute("SELECT name FROM segments ORDER BY 1")
                         .fetchall()]
    finally:
        con.close()


def _tau(folder: Path, ents: Entities) -> None:
    if not (folder / "users.json").is_file():
        return
    ents.customers = json.loads((folder / "users.json").read_text())
    with gzip.open(folder / "orders.json.gz", "rt") as handle:
        ents.orders = json.load(handle)
    products = json.loads((folder / "products.json").read_text())
    ents.product_ids = sorted(products)
    ents.variants = {pid: sorted(p["variants"]) for pid, p in products.items()}


def _fill_gaps(ents: Entities, rng: random.Random) -> None:
    ents.user_ids = ents.user_ids or [f"u{rng.randrange(10**6):06d}" for _ in range(200)]
    ents.titles = ents.titles or ["wireless headphones", "running shoes", "coffee mug",
                                  "desk lamp", "yoga mat", "backpack", "water bottle"]
    ents.categories = ents.categories or ["electronics", "home", "sports", "fashion", "books"]
    ents.countries = ents.countries or ["United Kingdom", "France", "Germany", "Spain"]
    ents.segments = ents.segments or ["lapsed_vips", "new_customers", "high_spenders"]
    if not ents.customers:
        first = ["Noah", "Mia", "Omar", "Yusuf", "Lena", "Aiko", "Sofia", "Raj"]
        last = ["Brown", "Kovacs", "Anderson", "Rossi", "Ito", "Silva", "Patel", "Hughes"]
        for i in range(120):
            f, l_ = rng.choice(first), rng.choice(last)
            uid = f"{f.lower()}_{l_.lower()}_{rng.randrange(1000, 9999)}"
            order_id = f"#W{rng.randrange(10**6, 10**7)}"
            ents.customers[uid] = {
                "name": {"first_name": f, "last_name": l_}, "email": f"{f}.{l_}{i}@example.com"
                .lower(), "address": {  # tau-bench's shape, as the served tool returns it
                    "address1": f"{i + 1} Main Street", "address2": "", "city": "Springfield",
                    "country": "USA", "state": "IL", "zip": f"{rng.randrange(10000, 99999)}"},
                "payment_methods": {f"credit_card_{rng.randrange(10**6, 10**7)}": {}},
                "orders": [order_id]}
            ents.orders[order_id] = {"order_id": order_id, "user_id": uid, "status": "pending",
                                     "items": [{"name": rng.choice(ents.titles),
                                                "item_id": str(rng.randrange(10**9, 10**10))}]}
    ents.product_ids = ents.product_ids or [str(rng.randrange(10**9, 10**10)) for _ in range(50)]


def load_entities(settings: Settings, seed: int) -> Entities:
    rng = random.Random(seed)
    ents = Entities()
    _warehouse(settings, ents, rng)
    _tau(settings.data_dir / "tau_bench_retail", ents)
    _fill_gaps(ents, rng)
    return ents
