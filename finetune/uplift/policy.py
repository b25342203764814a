"""Targeting policy: whom to treat, with which arm, and what the plan is expected to bring.

Each user gets, per treatment arm, expected incremental profit = uplift x margin - contact cost;
the best arm is the one with the highest profit, and only positive-profit users are candidates.
Candidates are taken in order of profit while the budget (total contact cost) and the user cap
allow. The plan's incremental conversions and revenue are estimated two ways: the model's own
sum of predicted uplifts, and a held-out calibration — observed uplift per (arm, score bin) in
the experiment's test split — with a bootstrap interval over those held-out users.
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
class Plan:
    rows: np.ndarray  # indices of the users treated, best first
    arm: np.ndarray  # their arm, 1..K (0 = not treated never appears)
    uplift: np.ndarray  # their predicted uplift with that arm
    profit: np.ndarray  # their expected incremental profit
    cost: np.ndarray
    skipped_by_budget: int
    not_profitable: int


def best_arm(uplift: np.ndarray, economics: Economics,
             allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per user: the arm (1..K) with the highest expected incremental profit, and that profit.
    ``allowed`` (K booleans) restricts the choice, e.g. to the arms of one channel."""
    profit = uplift * economics.margin - np.asarray(economics.contact_cost)[None, :]
    if allowed is not None:
        profit = np.where(np.asarray(allowed)[None, :], profit, -np.inf)
    best = profit.argmax(1)
    return best + 1, profit[np.arange(len(profit)), best]


def select(profit: np.ndarray, cost: np.ndarray, budget: float | None = None,
           max_users: int | None = None) -> tuple[np.ndarray, int]:
    """Positive-profit rows, best first, while the budget and the user cap allow. A row whose
    cost no longer fits is skipped (a cheaper one further down may fit). Returns (rows, skipped)."""
    if budget is not None and budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    if max_users is not None and max_users <= 0:
        raise ValueError(f"max_users must be positive, got {max_users}")
    order = np.argsort(-profit, kind="stable")
    order = order[profit[order] > 0]
    taken, spent, skipped = [], 0.0, 0
    for i in order:
        if max_users is not None and len(taken) >= max_users:
            break
        if budget is not None and spent + cost[i] > budget + 1e-9:
            skipped += 1
            continue
        taken.append(i)
        spent += cost[i]
    return np.asarray(taken, dtype=int), skipped


def make_plan(uplift: np.ndarray, economics: Economics, budget: float | None = None,
              max_users: int | None = None) -> Plan:
    """Choose users and arms by profit under a budget and/or a cap on the number of users."""
    arm, profit = best_arm(uplift, economics)
    cost = np.asarray(economics.contact_cost)[arm - 1]
    rows, skipped = select(profit, cost, budget, max_users)
    return Plan(rows=rows, arm=arm[rows], uplift=uplift[rows, arm[rows] - 1], profit=profit[rows],
                cost=cost[rows], skipped_by_budget=skipped,
                not_profitable=int((profit <= 0).sum()))


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
