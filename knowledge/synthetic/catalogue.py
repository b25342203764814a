"""The catalogue: products with composed titles and descriptions, prices, variants, popularity."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from knowledge.synthetic.common import unique_numbers
from knowledge.synthetic.words import CATEGORIES

# popularity of the product ranked r within its category is proportional to r ** -ZIPF_EXPONENT
ZIPF_EXPONENT = 1.1
MAX_VARIANTS = 5


@dataclass
class Catalogue:
    products: pd.DataFrame  # products table
    variants: pd.DataFrame  # product_variants table, sorted by product, available ones first
    category: np.ndarray  # category index per product
    popularity: np.ndarray  # relative popularity per product (Zipf over a random ranking per category)
    available_start: np.ndarray  # first row in `variants` of each product
    available_count: np.ndarray  # number of available variants of each product
    categories: list[str]

    @property
    def season(self) -> np.ndarray:
        """categories x 12 monthly interest multipliers."""
        return np.array([CATEGORIES[c]["season"] for c in self.categories])


PRICED_OPTIONS = ("size", "capacity", "length", "weight", "pieces", "thickness")  # later = dearer


def _title(rng: np.random.Generator, adjectives: list[str], spec: dict, taken: set[str]) -> str:
    for attempt in itertools.count():
        title = " ".join(str(rng.choice(words)) for words in (adjectives, spec["materials"], spec["nouns"]))
        if attempt > 20:  # a very large catalogue: number the series
            title = f"{title} No. {attempt - 19}"
        if title not in taken:
            taken.add(title)
            return title


def _description(rng: np.random.Generator, title: str, spec: dict, n_variants: int) -> str:
    first, second = rng.choice(spec["features"], size=2, replace=False)
    options = " and ".join(spec["options"])
    choice = f"Choose from {n_variants} variants by {options}." if n_variants > 1 else (
        f"One {options} only.")
    return f"The {title} {first} and {second}. {choice}"


def _variant_options(rng: np.random.Generator, spec: dict, k: int) -> list[dict[str, str]]:
    names = list(spec["options"])
    combos = list(itertools.product(*(spec["options"][n] for n in names)))
    chosen = rng.choice(len(combos), size=min(k, len(combos)), replace=False)
    return [dict(zip(names, combos[i])) for i in chosen]


def _variant_price(base: float, options: dict[str, str], spec: dict, rng: np.random.Generator) -> float:
    """Bigger sizes cost a little more; every variant gets a small jitter."""
    factor = 1.0
    for name in PRICED_OPTIONS:
        if name in options:
            factor *= 1 + 0.08 * spec["options"][name].index(options[name])
    return round(base * factor * (1 + rng.normal(0, 0.02)), 2)


def make_catalogue(n_products: int, rng: np.random.Generator) -> Catalogue:
    names = list(CATEGORIES)
    shares = rng.dirichlet(np.full(len(names), 12.0))
    category = rng.choice(len(names), size=n_products, p=shares)
    product_ids = unique_numbers(rng, n_products, 10).astype(str)
    n_variants = 1 + rng.binomial(MAX_VARIANTS - 1, 0.55, size=n_products)
    item_ids = iter(unique_numbers(rng, int(n_variants.sum()), 10).astype(str))

    products, variants, taken = [], [], set()
    for p in range(n_products):
        kind = CATEGORIES[names[category[p]]]
        spec = kind["lines"][rng.integers(len(kind["lines"]))]
        title = _title(rng, spec["adjectives"] or kind["adjectives"], spec, taken)
        median, sigma = kind["price"]
        median = spec["price"] or median
        price = max(2.99, float(np.round(median * rng.lognormal(0, sigma))) - 0.01)
        options = _variant_options(rng, spec, int(n_variants[p]))
        available = rng.random(len(options)) < 0.9
        available[rng.integers(len(options))] = True  # every product can be bought
        for opts, ok in sorted(zip(options, available), key=lambda pair: not pair[1]):
            variants.append({"item_id": next(item_ids), "product_id": product_ids[p],
                             "options": json.dumps(opts), "available": bool(ok),
                             "price": _variant_price(price, opts, spec, rng)})
        products.append({
            "product_id": product_ids[p], "title": title, "category": names[category[p]],
            "description": _description(rng, title, spec, len(options)),
            "price": round(price, 2),
        })
    variant_frame = pd.DataFrame(variants)
    counts = variant_frame.groupby("product_id", sort=False).size().to_numpy()
    available_count = variant_frame.groupby("product_id", sort=False)["available"].sum().to_numpy()
    ranks = np.empty(n_products)
    for c in range(len(names)):
        members = np.flatnonzero(category == c)
        ranks[members] = rng.permutation(len(members)) + 1
    return Catalogue(
        products=pd.DataFrame(products),
        variants=variant_frame,
        category=category,
        popularity=ranks ** -ZIPF_EXPONENT,
        available_start=np.concatenate([[0], np.cumsum(counts)[:-1]]),
        available_count=available_count.astype(int),
        categories=names,
    )
