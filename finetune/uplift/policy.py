"""Targeting policy: whom to treat, with which arm, and what the plan is expected to bring.

Each user gets, per treatment arm, expected incremental profit = uplift x margin - contact cost;
without a budget the best arm is the most profitable one and users are ranked by that profit.
Under a budget that binds, arms of different cost compete for the same money: we charge each
contact (1 + price) times its cost and raise the price until the plan fits (the Lagrangian
relaxation of the budgeted multiple-choice knapsack), so a cheap e-mail that earns a little
can win over an expensive coupon that earns a bit more. At price 0 this is the plain ranking.
The user cap then keeps the best-ranked users.

The plan's incremental conversions and revenue are estimated two ways: the model's own sum of
predicted uplifts, and a held-out calibration - observed uplift per (arm, score bin) in the
experiment's test split - with a bootstrap interval over those held-out users.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

CONTACT_COST = {"email": 0.05, "coupon": 2.0, "ad": 0.5}  # per contact, shop currency


class Economics(BaseModel):
    order_value: float = Field(gt=0, description="revenue of one conversion")
    margin_rate: float = Field(0.3, gt=0, le=1, description="profit share of revenue")
    contact_cost: list[float] = Field(description="cost of one contact, per treatment arm")

    @property
    def margin(self) -> float:
        return self.order_value * self.margin_rate


@dataclass
class Decision:
    """Chosen options, best first: row ``rows[i]`` gets option ``column[i]`` (a column of the
    value matrix; for one campaign, arm = column + 1)."""

    rows: np.ndarray
    column: np.ndarray
    profit: np.ndarray  # expected incremental profit of each chosen contact
    cost: np.ndarray
    price: float  # the budget's shadow price (0 when the budget does not bind)
    not_profitable: int  # users with no option of positive profit


def _check_limits(budget: float | None, max_users: int | None) -> None:
    if budget is not None and budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    if max_users is not None and max_users <= 0:
        raise ValueError(f"max_users must be positive, got {max_users}")


def choose(value: np.ndarray, cost: np.ndarray, budget: float | None = None,
           max_users: int | None = None) -> Decision:
    """``value[i, j]``: expected incremental margin of giving user i option j (-inf where the
    option is not available); ``cost[j]``: its contact cost."""
    _check_limits(budget, max_users)
    cost = np.broadcast_to(np.asarray(cost, float), value.shape)
    everyone = np.arange(len(value))

    def pick(price: float) -> tuple[np.ndarray, np.ndarray]:
        adjusted = value - (1 + price) * cost
        column = adjusted.argmax(1)
        return column, adjusted[everyone, column]

    def spend(price: float) -> float:
        column, gain = pick(price)
        return float(cost[everyone, column][gain > 0].sum())

    price = 0.0
    if budget is not None and spend(0.0) > budget:
        low, high = 0.0, 1.0
        while spend(high) > budget and high < 1e12:
            low, high = high, high * 2
        for _ in range(60):  # spend falls as the price rises
            mid = (low + high) / 2
            low, high = (mid, high) if spend(mid) > budget else (low, mid)
        price = high
    column, gain = pick(price)
    chosen_cost = cost[everyone, column]
    rows = select(gain, chosen_cost, budget, max_users)
    profit = value[everyone, column] - chosen_cost
    return Decision(rows, column[rows], profit[rows], chosen_cost[rows], price,
                    not_profitable=int((pick(0.0)[1] <= 0).sum()))


def select(score: np.ndarray, cost: np.ndarray, budget: float | None = None,
           max_users: int | None = None) -> np.ndarray:
    """Positive-score rows, best first, while the budget and the user cap allow; a row whose
    cost no longer fits is skipped (a cheaper one further down may still fit)."""
    _check_limits(budget, max_users)
    order = np.argsort(-score, kind="stable")
    order = order[score[order] > 0]
    if budget is None:
        return order[:max_users]
    taken, spent = [], 0.0
    for i in order:
        if max_users is not None and len(taken) >= max_users:
            break
        if spent + cost[i] <= budget + 1e-9:
            taken.append(i)
            spent += cost[i]
    return np.asarray(taken, dtype=int)


def make_plan(uplift: np.ndarray, economics: Economics, budget: float | None = None,
              max_users: int | None = None, allowed: np.ndarray | None = None) -> Decision:
    """Whom to treat and with which arm (column + 1) given one campaign's uplift matrix;
    ``allowed`` (K booleans) restricts the arms, e.g. to one channel."""
    value = uplift * economics.margin
    if allowed is not None:
        value = np.where(np.asarray(allowed)[None, :], value, -np.inf)
    return choose(value, np.asarray(economics.contact_cost), budget, max_users)


@dataclass
class Calibration:
    """Held-out evidence: per treatment arm, bin edges of predicted uplift, and for each
    held-out user their arm, their bin under each arm's score, conversion and revenue."""

    edges: list[np.ndarray]  # per treatment arm, inner bin edges
    arm: np.ndarray  # (n,) 0 = control
    bins: np.ndarray  # (n, K)
    y: np.ndarray  # (n,) conversion
    value: np.ndarray  # (n,) revenue

    @classmethod
    def fit(cls, uplift: np.ndarray, arm: np.ndarray, y: np.ndarray, value: np.ndarray,
            n_bins: int = 5) -> Calibration:
        qs = np.linspace(0, 1, n_bins + 1)[1:-1]
        edges = [np.unique(np.quantile(uplift[:, k], qs)) for k in range(uplift.shape[1])]
        bins = np.column_stack([np.searchsorted(e, uplift[:, k]) for k, e in enumerate(edges)])
        return cls(edges, np.asarray(arm), bins, np.asarray(y, float), np.asarray(value, float))

    def save(self, path: Path) -> None:
        np.savez(path, arm=self.arm, bins=self.bins, y=self.y, value=self.value,
                 **{f"edges_{k}": e for k, e in enumerate(self.edges)})

    @classmethod
    def load(cls, path: Path) -> Calibration:
        with np.load(path) as z:
            edges = [z[f"edges_{k}"] for k in range(z["bins"].shape[1])]
            return cls(edges, z["arm"], z["bins"], z["y"], z["value"])

    @property
    def n_bins(self) -> int:
        return max(len(e) for e in self.edges) + 1

    def bin_of(self, arm: np.ndarray, uplift: np.ndarray) -> np.ndarray:
        return np.array([np.searchsorted(self.edges[a - 1], u) for a, u in zip(arm, uplift)],
                        dtype=int)

    def _membership(self) -> np.ndarray:
        """(n, K, bins, 2): held-out user is in (arm k+1 | control) and in bin b of arm k's score."""
        K, nb = len(self.edges), self.n_bins
        in_bin = self.bins[:, :, None] == np.arange(nb)[None, None, :]  # (n, K, nb)
        treated = (self.arm[:, None] == np.arange(1, K + 1)[None, :])[:, :, None]
        control = (self.arm == 0)[:, None, None]
        return np.stack([in_bin & treated, in_bin & control], axis=-1).astype(float)

    def draws(self, arm: np.ndarray, uplift: np.ndarray, n_boot: int = 400,
              seed: int = 0) -> dict[str, tuple[float, np.ndarray]]:
        """Incremental conversions and revenue of treating these users with these arms: the
        held-out point estimate and its bootstrap draws (resampling the held-out users).
        Each plan user counts with the observed uplift of their (arm, score bin) cell."""
        plan_counts = np.zeros((len(self.edges), self.n_bins))
        np.add.at(plan_counts, (arm - 1, self.bin_of(arm, uplift)), 1)
        n = len(self.y)
        rng = np.random.default_rng(seed)
        weights = np.vstack([np.ones(n), [np.bincount(rng.integers(0, n, n), minlength=n)
                                          for _ in range(n_boot)]])
        member = self._membership().reshape(n, -1)
        counts = (weights @ member).reshape(-1, len(self.edges), self.n_bins, 2)
        out = {}
        for name, outcome in (("conversions", self.y), ("revenue", self.value)):
            sums = (weights @ (member * outcome[:, None])).reshape(counts.shape)
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = np.nan_to_num(sums / counts)
            total = ((rate[..., 0] - rate[..., 1]) * plan_counts).sum(axis=(1, 2))
            out[name] = (float(total[0]), total[1:])
        return out


def interval(parts: list[dict[str, tuple[float, np.ndarray]]]) -> dict[str, dict[str, float]]:
    """Sum the draws of independent held-out sets (one per campaign) into 95% intervals."""
    out = {}
    for name in parts[0]:
        point = sum(p[name][0] for p in parts)
        boots = np.sum([p[name][1] for p in parts], axis=0)
        low, high = np.percentile(boots, [2.5, 97.5])
        out[name] = {"estimate": point, "low": float(low), "high": float(high)}
    return out
