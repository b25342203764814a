"""Temporal split and full-ranking metrics: HR@10, NDCG@10, Recall@20, MRR@20, coverage.

Protocols: "all" ranks every catalogue item (repeat purchases count); "new" removes the items in
the user's history from both the candidates and the truth. Users without any truth item under a
protocol are not evaluated under it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm import tqdm

from finetune.recommend.data import History, TrainData, train_data

PROTOCOLS = ("all", "new")
ScoreFn = Callable[[list[History]], np.ndarray]


@dataclass
class EvalSet:
    histories: list[History]
    truth: list[set[int]]
    users: list[str] = field(default_factory=list)

    def subset(self, keep: list[bool]) -> EvalSet:
        """The users where ``keep`` is true."""
        rows = [i for i, k in enumerate(keep) if k]
        return EvalSet([self.histories[i] for i in rows], [self.truth[i] for i in rows],
                       [self.users[i] for i in rows])


@dataclass
class Split:
    train: TrainData
    eval: dict[str, EvalSet]  # protocol -> users to evaluate


def temporal_split(events: pd.DataFrame, cutoff: float, end: float | None = None,
                   truth_types: set[str] | None = None, texts: dict[str, str] | None = None) -> Split:
    """Train on events before `cutoff`; truth = distinct catalogue items each user touches in
    [cutoff, end) (only `truth_types` events if given). Catalogue = items seen before cutoff."""
    before = events[events["ts"] < cutoff]
    after = events[(events["ts"] >= cutoff) & (events["ts"] < (end or np.inf))]
    if truth_types:
        after = after[after["event_type"].isin(truth_types)]
    items = list(dict.fromkeys(before["product_id"].astype(str)))
    train = train_data(before, items, [(texts or {}).get(i, "") for i in items] if texts else None)
    index = train.item_index()
    rows = after["product_id"].map(index)
    after = after[rows.notna()].assign(row=rows[rows.notna()].astype(np.int64))
    sets: dict[str, EvalSet] = {p: EvalSet([], [], []) for p in PROTOCOLS}
    for user, group in after.groupby("user_id", sort=True):
        hist = train.histories.get(str(user))
        if hist is None:
            continue
        truth = set(group["row"].tolist())
        for protocol, items_true in (("all", truth), ("new", truth - set(hist.items.tolist()))):
            if items_true:
                sets[protocol].histories.append(hist)
                sets[protocol].truth.append(items_true)
                sets[protocol].users.append(str(user))
    return Split(train, sets)


def mask_history(scores: np.ndarray, histories: list[History]) -> np.ndarray:
    for row, hist in enumerate(histories):
        scores[row, hist.items] = -np.inf
    return scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Row-wise indices of the k highest scores, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def ranking_metrics(ranked: np.ndarray, truth: list[set[int]]) -> dict[str, np.ndarray]:
    """Per-user metrics from ranked item rows (n_users, >= 20)."""
    hits = np.array([[item in t for item in row] for row, t in zip(ranked[:, :20], truth)])
    sizes = np.array([len(t) for t in truth])
    discounts = 1.0 / np.log2(np.arange(2, 12))
    dcg = (hits[:, :10] * discounts).sum(axis=1)
    idcg = np.array([discounts[: min(s, 10)].sum() for s in sizes])
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, np.inf)
    return {
        "hr@10": hits[:, :10].any(axis=1).astype(float),
        "ndcg@10": dcg / idcg,
        "recall@20": hits.sum(axis=1) / sizes,
        "mrr@20": 1.0 / first,
    }


def per_user_metrics(score: ScoreFn, data: EvalSet, protocol: str, n_items: int,
                     batch: int = 256, desc: str = "") -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(each metric per user of `data`, which items some top-10 list showed)."""
    per_user: dict[str, list[np.ndarray]] = {}
    shown = np.zeros(n_items, dtype=bool)
    for start in tqdm(range(0, len(data.histories), batch), desc=desc, leave=False):
        hists = data.histories[start:start + batch]
        scores = score(hists).astype(np.float32, copy=True)
        if protocol == "new":
            scores = mask_history(scores, hists)
        ranked = top_k(scores, 20)
        shown[ranked[:, :10].ravel()] = True
        for name, values in ranking_metrics(ranked, data.truth[start:start + batch]).items():
            per_user.setdefault(name, []).append(values)
    return {name: np.concatenate(v) for name, v in per_user.items()}, shown


def evaluate(score: ScoreFn, data: EvalSet, protocol: str, n_items: int, batch: int = 256,
             desc: str = "") -> dict[str, float]:
    """Mean metrics over the users of `data`, plus catalogue coverage of the top-10 lists."""
    per_user, shown = per_user_metrics(score, data, protocol, n_items, batch, desc)
    out = {name: float(values.mean()) for name, values in per_user.items()}
    out["coverage@10"] = float(shown.mean())
    out["users"] = len(data.histories)
    return out
