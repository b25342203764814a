"""`predict_behavior`: how likely a user is to purchase, churn or click, and why.

Scores come from the task's serving (tabular) model (the registry's, `serving_version`) through
its calibrator (fitted on the validation window), applied to features built from the warehouse
*as it is now* (cutoff = midnight after its last event), so a new event for
the user changes the next prediction. Churn within H days is 1 - P(purchase within H days),
served by the purchase model of that horizon. `population_scores` scores every current user
once per warehouse state and model version (the percentile, and the segment tool's
propensity filters, read it); after appended events (``knowledge.event_journal``, whichever
process appended them) it rescores only their users, unless one moved the cutoff.
Each answer is appended to the served-prediction log (``finetune/behavior/prediction_log.py``)
that `shopmind drift` scores once its outcome window has closed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from finetune.behavior import prediction_log
from finetune.behavior.artifacts import (
    ModelMeta,
    latest_servable,
    serving_version,
    trained_tasks,
)
from finetune.behavior.calibration import Calibrator
from finetune.behavior.tabular import BIAS, TabularModel
from finetune.registry import RegistryError
from knowledge import event_journal, warehouse
from knowledge.features import build_features, data_cutoff, describe_feature
from knowledge.settings import Settings
from tools.normalise import days_arg, user_id_arg
from tools.registry import ToolContext, ToolError, tool

Event = Literal["purchase", "churn", "click"]
DEFAULT_HORIZON = {"purchase": 30, "churn": 90, "click": 30}
TOP_FACTORS = 5
# One user's features and the population's are separate DuckDB aggregations whose float sums may
# differ in the last bits (parallel order); a continuous model carries that into the score.
TIE = 1e-9


class PredictBehaviorArgs(BaseModel):
    user_id: str = Field(..., min_length=1, description="The user to score.")
    event: Event = Field("purchase", description="purchase: buys within the horizon; churn: does "
                         "NOT buy within it; click: views a product within it.")
    horizon_days: int | None = Field(None, ge=1, le=365, description="Days ahead (default 30; "
                                     "90 for churn).")

    _user_id = field_validator("user_id", mode="before")(user_id_arg)  # 15544, "customer 15544"
    _horizon = field_validator("horizon_days", mode="before")(days_arg)  # "six weeks", "两周"


@dataclass(frozen=True)
class Served:
    folder: Path
    meta: ModelMeta
    model: TabularModel
    churn: bool  # report 1 - P(purchase)
    calibrator: Calibrator


@dataclass(frozen=True)
class _Cached:
    state: tuple  # the warehouse file's state it was computed at (event_journal.file_state)
    cutoff: datetime
    frame: pd.DataFrame  # indexed by user_id, sorted like a full computation
    model: str  # the model folder that scored it ("" for features)


_lock = threading.Lock()
_models: dict[Path, tuple[TabularModel, Calibrator]] = {}
_features: dict[tuple, _Cached] = {}  # (warehouse, categories) -> every user's features
_scores: dict[tuple, _Cached] = {}  # (warehouse, task, churn) -> every user's score


def _task(event: str, horizon_days: int | None) -> tuple[str, bool]:
    """(artifact task name, whether to complement) for a tool event."""
    horizon = horizon_days or DEFAULT_HORIZON[event]
    kind = "click" if event == "click" else "purchase"
    return f"{kind}_{horizon}d", event == "churn"


def served_model(settings: Settings, event: str = "purchase",
                 horizon_days: int | None = None) -> Served:
    """The model that answers (event, horizon) for the active shop, or a ToolError saying how
    to train it and which horizons exist."""
    if event not in DEFAULT_HORIZON:
        raise ToolError(f"unsupported event {event!r}; use one of {', '.join(DEFAULT_HORIZON)}")
    task, churn = _task(event, horizon_days)
    try:
        found = serving_version(settings, settings.shop, task)
    except RegistryError as err:
        raise ToolError(str(err)) from err
    if found is None:
        kind = task.split("_")[0]
        have = [t.split("_")[1].removesuffix("d") for t in trained_tasks(settings, settings.shop)
                if t.startswith(kind + "_") and latest_servable(settings, settings.shop, t)]
        horizon = task.split("_")[1].removesuffix("d")
        hint = (f"trained horizons for {event}: {', '.join(have)} days" if have
                else f"no {event} model is trained for shop {settings.shop!r}")
        raise ToolError(
            f"unsupported horizon {horizon} days for {event} ({hint}); train one with "
            f"`shopmind train behavior --shop {settings.shop} --event {kind} --horizon {horizon}`")
    folder, meta = found
    with _lock:
        if folder not in _models:
            _models[folder] = (TabularModel.load(folder), Calibrator.load(folder))
        model, calibrator = _models[folder]
        return Served(folder, meta, model, churn, calibrator)


def open_shop(settings: Settings):
    try:
        return warehouse.open_shared(settings.warehouse)
    except warehouse.WarehouseMissingError as err:
        raise ToolError(str(err)) from err


def _probability(served: Served, features: pd.DataFrame) -> np.ndarray:
    p = served.calibrator(served.model.predict(features))
    return 1 - p if served.churn else p


def _patched(frame: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with the rows of `fresh` replaced or, for new users, inserted in
    index order (the order of a full computation)."""
    rows = frame.index.get_indexer(fresh.index)  # a hash look-up, kept by the index
    known = rows >= 0
    out = frame.copy()
    out.iloc[rows[known]] = fresh[known].to_numpy()
    if not known.all():
        out = pd.concat([out, fresh[~known]]).sort_index()
    return out


def _per_user(settings: Settings, cache: dict[tuple, _Cached], key: tuple,
              compute: Callable[[duckdb.DuckDBPyConnection, datetime, list[str] | None],
                                pd.DataFrame], model: str = "") -> pd.DataFrame:
    """`compute(con, cutoff, users)` (users None = everyone) as of now, cached per key. When only
    appended events (the event journal's, from any process) changed the warehouse since the
    cached frame, and none of them moved the cutoff (an event on a new day ages everyone), only
    their users' rows are recomputed; anything else recomputes every row."""
    path = Path(settings.warehouse)
    state = event_journal.file_state(path)
    with _lock:
        cached = cache.get(key)
    if cached is not None and cached.model != model:  # a new version serves: score everyone
        cached = None
    if cached is not None and cached.state == state:
        return cached.frame
    changes = event_journal.between(path, cached.state, state) if cached else None
    con = open_shop(settings)
    try:
        if changes is not None and all(c.ts < cached.cutoff for c in changes):
            cutoff = cached.cutoff
            users = sorted({c.user_id for c in changes})
            frame = _patched(cached.frame, compute(con, cutoff, users))
        else:
            cutoff = data_cutoff(con)
            frame = compute(con, cutoff, None)
    finally:
        con.close()
    with _lock:
        cache[key] = _Cached(state, cutoff, frame, model)
    return frame


def features_now(settings: Settings, categories: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every current user's features, as of now (read-only: do not modify)."""
    return _per_user(settings, _features, (str(settings.warehouse), categories),
                     lambda con, cutoff, users: build_features(con, cutoff, users, categories))


def population_scores(settings: Settings, event: str = "purchase",
                      horizon_days: int = 30) -> pd.DataFrame:
    """Every current user's probability (columns user_id, probability) as of now."""
    served = served_model(settings, event, horizon_days)

    def scores(con: duckdb.DuckDBPyConnection, cutoff: datetime,
               users: list[str] | None) -> pd.DataFrame:
        features = build_features(con, cutoff, users, served.meta.categories)
        return pd.DataFrame({"probability": _probability(served, features)},
                            index=features.index)

    key = (str(settings.warehouse), served.meta.task, served.churn)
    frame = _per_user(settings, _scores, key, scores, str(served.folder))
    return frame.rename_axis("user_id").reset_index()


def _factors(served: Served, features: pd.DataFrame) -> list[dict]:
    """The largest log-odds contributions to this score (signs flipped for churn)."""
    contrib = served.model.contributions(features).iloc[0].drop(BIAS)
    if served.churn:
        contrib = -contrib
    top = contrib.reindex(contrib.abs().sort_values(ascending=False).index)[:TOP_FACTORS]
    row = features.iloc[0]
    return [{"feature": name, "meaning": describe_feature(name),
             "value": None if pd.isna(row[name]) else round(float(row[name]), 3),
             "effect": round(float(effect), 4),
             "direction": "raises" if effect > 0 else "lowers"}
            for name, effect in top.items() if effect != 0]


def predict(settings: Settings, user_id: str, event: str = "purchase",
            horizon_days: int | None = None) -> dict:
    served = served_model(settings, event, horizon_days)
    con = open_shop(settings)
    try:
        known = con.execute("SELECT 1 FROM users WHERE user_id = $u UNION ALL "
                            "SELECT 1 FROM events WHERE user_id = $u LIMIT 1",
                            {"u": user_id}).fetchone()
        if known is None:
            raise ToolError(f"unknown user {user_id!r} in shop {settings.shop!r}; check the id "
                            "(get_user_profile or query_segment can find users)")
        cutoff = data_cutoff(con)
        features = build_features(con, cutoff, users=[user_id], categories=served.meta.categories)
    finally:
        con.close()
    if features.empty:
        raise ToolError(f"user {user_id!r} has no activity before {cutoff:%Y-%m-%d}, so there is "
                        "nothing to base a prediction on")
    probability = float(_probability(served, features)[0])
    population = population_scores(settings, event, served.meta.horizon_days)["probability"]
    prediction_log.append(settings, prediction_log.ServedPrediction(
        user_id=user_id, event=event, task=served.meta.task,
        horizon_days=served.meta.horizon_days, version=served.meta.version,
        probability=probability, ts=prediction_log.now_utc()))
    test = served.meta.metrics.get("test", {})
    return {
        "user_id": user_id,
        "event": event,
        "horizon_days": served.meta.horizon_days,
        "probability": round(probability, 4),
        "percentile": round(float((population <= probability + TIE).mean() * 100), 1),
        "population": len(population),
        "top_factors": _factors(served, features),
        "model": {"name": served.meta.model, "version": served.meta.version,
                  "trained_at": served.meta.created_at,
                  "test_roc_auc": round(test["roc_auc"], 4) if test else None,
                  "test_ece": round(test["ece"], 4) if "ece" in test else None,
                  "calibration": served.calibrator.method},
        "data_cutoff": f"{cutoff:%Y-%m-%d %H:%M}",
        "model_data_end": served.meta.data_end,
        "computed_at": datetime.now().isoformat(timespec="seconds"),
    }


OUTCOME_WORDS = {"purchase": "buy", "churn": "churn (not buy)", "click": "click a product"}


def headline(result: dict) -> str:
    text = (f"{result['user_id']} has a {result['probability']:.0%} chance to "
            f"{OUTCOME_WORDS[result['event']]} in the next {result['horizon_days']} days, "
            f"higher than {result['percentile']:.0f}% of {result['population']:,} users.")
    if result["top_factors"]:
        factor = result["top_factors"][0]
        text += f" Strongest factor: {factor['meaning']} ({factor['direction']} it)."
    return text


@tool("predict_behavior",
      "Probability that a user purchases, churns (does not purchase) or clicks within the next "
      "horizon_days, with their percentile among current users, the top factors behind the "
      "score, the model version and the data cut-off.",
      PredictBehaviorArgs, roles={"operator"}, headline=headline)
def predict_behavior(ctx: ToolContext, args: PredictBehaviorArgs) -> dict:
    return predict(ctx.settings, args.user_id.strip(), args.event, args.horizon_days)
