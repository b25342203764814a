"""Helpers every part of the generator shares: seeded random streams and unique ids."""

from __future__ import annotations

import zlib

import numpy as np


def rng_for(seed: int, part: str) -> np.random.Generator:
    """An independent random stream per part of the shop, so that changing how one part is
    drawn (say, the catalogue) does not reshuffle every other part for the same seed."""
    return np.random.default_rng([seed, zlib.crc32(part.encode())])


def unique_numbers(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
    """`n` distinct random integers with exactly `digits` digits, in random order."""
    low, high = 10 ** (digits - 1), 10**digits
    if n > (high - low) // 4:
        raise ValueError(f"cannot draw {n} distinct {digits}-digit ids; use fewer rows")
    drawn = np.empty(0, dtype=np.int64)
    while len(drawn) < n:
        more = rng.integers(low, high, size=2 * n - len(drawn) + 16)
        merged = np.concatenate([drawn, more])
        _, first = np.unique(merged, return_index=True)
        drawn = merged[np.sort(first)]
    return drawn[:n]


def pick_weighted(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row of `weights` (rows need not be normalised)."""
    cumulative = np.cumsum(weights, axis=1)
    draws = rng.random(len(weights)) * cumulative[:, -1]
    return (cumulative < draws[:, None]).sum(axis=1)
