"""The recommender's promotion gate: per-user NDCG@10 of the candidate and of the serving
version on the newest held-out window, compared by a paired bootstrap over users.

The window holds the events of the held-out half of the users (``held_out``; the other half
tunes the hybrid's weights) after the candidate's validation cutoff and after the serving
version's last training event, so neither model was fitted on it and the candidate's weights
were not tuned on these users. The candidate is judged by its held-out twin (the components
fitted before the cutoff, with the tuned weights): the refit on all data that will be served
cannot be judged on data it was fitted on. Each model ranks its own catalogue; a truth item it
does not know counts in the ideal ranking and can never be hit.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from finetune import registry
from finetune.gate import GateVerdict, bootstrap_options, metric_gate, settle
from finetune.recommend.artifacts import RecommendMeta
from finetune.recommend.data import histories_from
from finetune.recommend.evaluate import PROTOCOLS, EvalSet, ScoreFn, per_user_metrics
from finetune.recommend.serving import load_trained
from knowledge.settings import Settings

Ranker = Callable[[str], ScoreFn]  # protocol -> the model's score function under it


def held_out(user: str) -> bool:
    """The half of the users whose validation events are never used for tuning (stable)."""
    return zlib.crc32(user.encode()) % 2 == 1


def window_truth(events: pd.DataFrame, start: float, protocol: str) -> dict[str, set[str]]:
    """Held-out user -> products touched from ``start`` on (under "new": not touched before)."""
    before, after = events[events["ts"] < start], events[events["ts"] >= start]
    after = after[after["user_id"].astype(str).map(held_out).astype(bool)]  # bool when empty
    seen = before.groupby("user_id")["product_id"].agg(set) if protocol == "new" else {}
    truth = {}
    for user, group in after.groupby("user_id"):
        wanted = set(group["product_id"].astype(str)) - seen.get(user, set())
        if wanted:
            truth[str(user)] = wanted
    return truth


def per_user_ndcg(rank: ScoreFn, items: list[str], before: pd.DataFrame,
                  truth: dict[str, set[str]], protocol: str) -> dict[str, float]:
    """User -> NDCG@10 of one model over its catalogue ``items`` (users it has a history for)."""
    index = {item: row for row, item in enumerate(items)}
    histories = histories_from(before[before["user_id"].astype(str).isin(truth)], index)
    users = sorted(u for u in truth if u in histories)
    rows = [{index.get(p, -1 - k) for k, p in enumerate(sorted(truth[u]))} for u in users]
    data = EvalSet([histories[u] for u in users], rows, users)
    values, _ = per_user_metrics(rank, data, protocol, len(items)) if users else ({}, None)
    return dict(zip(users, values.get("ndcg@10", [])))


def recommend_gate(settings: Settings, events: pd.DataFrame, cutoff: float,
                   candidate: tuple[Ranker, list[str]],
                   serving: tuple[Ranker, list[str], float] | None) -> list[GateVerdict]:
    """One verdict per protocol with users in the window. ``candidate``: (ranker, catalogue);
    ``serving``: (ranker, catalogue, its last training event) or None."""
    start = cutoff if serving is None else max(cutoff, np.nextafter(serving[2], np.inf))
    before = events[events["ts"] < start]
    verdicts = []
    for protocol in PROTOCOLS:
        truth = window_truth(events, start, protocol)
        cand = per_user_ndcg(candidate[0](protocol), candidate[1], before, truth, protocol)
        serv = (per_user_ndcg(serving[0](protocol), serving[1], before, truth, protocol)
                if serving is not None else cand)
        users = sorted(set(cand) & set(serv))
        if not users:
            continue
        c = np.array([cand[u] for u in users])
        s = np.array([serv[u] for u in users])
        verdict = metric_gate(
            f"NDCG@10 ({protocol})", len(users), lambda i, c=c: float(c[i].mean()),
            None if serving is None else (lambda i, s=s: float(s[i].mean())),
            margin=settings.gate_ndcg_margin, **bootstrap_options(settings))
        verdicts.append(verdict)
    if not verdicts:
        verdicts.append(GateVerdict(
            promote=serving is None, rows=0, candidate={},
            reason="no held-out user has events newer than "
            + ("the validation cutoff: first version, promoted" if serving is None else
               "the serving version: nothing to judge the candidate on, refused")))
    return verdicts


def register_and_gate(settings: Settings, meta: RecommendMeta, folder: Path,
                      events: pd.DataFrame, cutoff: float,
                      candidate: tuple[Ranker, list[str]]) -> list[GateVerdict]:
    """Register a trained version (saved in ``folder``) as a candidate of ``recommend/<shop>``,
    gate it against the serving version, promote it if it passes."""
    slot = registry.recommend_slot(meta.shop)
    registry.register(settings, slot, registry.Version(
        version=meta.version, path=str(folder.relative_to(settings.artifacts_dir)),
        model="hybrid:" + "+".join(meta.components),
        data_window={"valid_from": datetime.fromtimestamp(cutoff, UTC).isoformat(),
                     "data_end": meta.trained_until, "data_version": meta.data_version},
        metrics={"val": meta.validation, "test": meta.heldout}, created_at=meta.created_at))
    current = registry.load(settings).slots[slot].serving
    serving = None
    if current is not None:
        model = load_trained(registry.artifact_folder(settings, current))
        serving = (lambda p: model.hybrid(p).score, model.items,
                   datetime.fromisoformat(model.meta.trained_until).timestamp())
    verdicts = recommend_gate(settings, events, cutoff, candidate, serving)
    settle(settings, slot, meta.version, verdicts)
    return verdicts
