"""`suggest_intervention`: whom to treat, with which campaign arm, and what it should bring.

Effects come only from uplift models trained on the shop's randomised campaigns
(``shopmind train uplift``): the registry's serving version of each. The tool refuses, instead
of guessing, when no experiment covers the channel asked for, when the warehouse was re-imported
and the campaign not retrained since, when a user was not in the experiment (no pre-treatment
covariates), or when their covariates fall outside what the experiment saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from finetune.registry import RegistryError
from finetune.uplift import artifacts
from finetune.uplift.data import covariates_frame, data_version
from finetune.uplift.policy import Calibration, choose, interval
from knowledge import warehouse
from knowledge.settings import Settings
from tools.normalise import amount_arg, count_arg, user_id_arg
from tools.registry import ToolContext, ToolError, tool

Channel = Literal["email", "coupon", "ad"]
TOP_USERS = 20


class SuggestInterventionArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, min_length=1, max_length=100,
                                description="One user to decide for.")
    segment: str | dict[str, Any] | None = Field(
        None, description="A saved segment name, or query_segment filters (object or JSON string). "
        "Neither user_id nor segment: all customers.")
    channel: Channel | None = Field(None, description="Only contacts (arms) of this channel.")
    budget: float | None = Field(None, gt=0, description="Total contact cost allowed (segment).")
    max_users: int | None = Field(None, gt=0, description="Treat at most this many users (segment).")

    _user_id = field_validator("user_id", mode="before")(user_id_arg)  # 15544, "customer 15544"
    _budget = field_validator("budget", mode="before")(amount_arg)  # "$2.5k", "a grand"
    _max_users = field_validator("max_users", mode="before")(count_arg)  # "a hundred"

    @model_validator(mode="after")
    def _one_target(self) -> SuggestInterventionArgs:
        if self.user_id is not None and self.segment is not None:
            raise ValueError("give user_id or segment, not both")
        return self


@dataclass
class Loaded:
    meta: artifacts.UpliftMeta
    model: Any
    calibration: Calibration
    scores: artifacts.Scores


_CACHE: dict[Path, tuple[int, Loaded]] = {}


def _load(folder: Path) -> Loaded:
    stamp = (folder / "meta.json").stat().st_mtime_ns
    cached = _CACHE.get(folder)
    if cached is None or cached[0] != stamp:
        cached = (stamp, Loaded(*artifacts.load(folder)))
        _CACHE[folder] = cached
    return cached[1]


def _models(settings: Settings, channel: str | None) -> list[Loaded]:
    """The registry's serving version of each campaign whose arms offer ``channel``."""
    try:
        folders = artifacts.serving(settings, settings.shop)
    except RegistryError as err:
        raise ToolError(str(err)) from err
    metas = [artifacts.UpliftMeta.model_validate_json((f / "meta.json").read_text())
             for f in folders]
    if not metas:
        raise ToolError(f"no uplift model for shop {settings.shop!r}: train one from its randomised "
                        f"campaigns with `shopmind train uplift --data {settings.shop}`")
    chosen = [m for m in metas if channel is None or channel in m.campaign.arm_channels()]
    if not chosen:
        covered = ", ".join(f"{c} ({m.campaign.campaign_id}:{a})" for m in metas
                            for a, c in zip(m.campaign.arms[1:], m.campaign.arm_channels()))
        raise ToolError(f"no randomised experiment in shop {settings.shop!r} covers channel "
                        f"{channel!r}, so its effect is unknown; experiments cover: {covered}. "
                        f"Run a randomised {channel} test before targeting by uplift.")
    current = data_version(settings.warehouse)
    newest = artifacts.latest_per_campaign(settings, settings.shop)  # a refused one counts
    stale = [m for m in chosen if newest[m.campaign.campaign_id].data_version != current]
    if stale:
        raise ToolError(f"the uplift model of {stale[0].campaign.campaign_id} was trained on the "
                        f"warehouse imported at {stale[0].data_version}, but it was re-imported at "
                        f"{current}; retrain with `shopmind train uplift --data {settings.shop}`")
    return [_load(folder) for folder, m in zip(folders, metas) if m in chosen]


def _covariates(settings: Settings, campaign_id: str, user_ids: list[str]):
    """(user ids, covariates frame) of those of these users who are in the experiment."""
    con = warehouse.open_shared(settings.warehouse)
    try:
        rows = con.execute(
            "SELECT user_id, covariates FROM campaign_assignments WHERE campaign_id = ? "
            "AND user_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY user_id",
            [campaign_id, user_ids]).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows], covariates_frame([r[1] for r in rows])


def _model_card(meta: artifacts.UpliftMeta) -> dict[str, Any]:
    return {
        "campaign_id": meta.campaign.campaign_id, "experiment": meta.campaign.name,
        "channel": meta.campaign.channel, "control_arm": meta.campaign.arms[0],
        "arm_channels": dict(zip(meta.campaign.arms[1:], meta.campaign.arm_channels())),
        "model": meta.model, "version": meta.version, "outcome": meta.outcome,
        "trained_users": meta.rows["train"],
        "heldout_qini_auc": {a: m["qini_auc"] and round(m["qini_auc"], 4)
                             for a, m in meta.metrics.items()},
        "data_version": meta.data_version, "created_at": meta.created_at,
    }


@dataclass
class Scored:
    """Users of one campaign that the model covers, with their predicted uplift per arm."""

    loaded: Loaded
    user_ids: list[str]
    uplift: np.ndarray
    outside: dict[str, str]  # user -> why the model does not cover them
    not_in_experiment: list[str]


def _score(settings: Settings, loaded: Loaded, user_ids: list[str]) -> Scored:
    """Uplift of these users: looked up for the users the model was trained with, predicted
    from their covariates for rows added to the experiment since (if inside its population)."""
    found, uplift = loaded.scores.lookup(user_ids)
    known = [u for u, f in zip(user_ids, found) if f]
    rest = [u for u, f in zip(user_ids, found) if not f]
    if not rest:
        return Scored(loaded, known, uplift, {}, [])
    fresh = _predict(settings, loaded, rest)
    return Scored(loaded, known + fresh.user_ids, np.vstack([uplift, fresh.uplift]),
                  fresh.outside, fresh.not_in_experiment)


def _predict(settings: Settings, loaded: Loaded, user_ids: list[str]) -> Scored:
    ids, cov = _covariates(settings, loaded.meta.campaign.campaign_id, user_ids)
    missing = sorted(set(user_ids) - set(ids))
    n_arms = len(loaded.meta.campaign.arms) - 1
    if not ids:
        return Scored(loaded, [], np.zeros((0, n_arms)), {}, missing)
    reasons = loaded.meta.features.outside(cov)
    keep = np.array([r is None for r in reasons])
    X = loaded.meta.features.transform(cov[keep].reset_index(drop=True))
    uplift = loaded.model.predict(X) if keep.any() else np.zeros((0, n_arms))
    outside = {u: r for u, r in zip(ids, reasons) if r is not None}
    return Scored(loaded, [u for u, k in zip(ids, keep) if k], uplift, outside, missing)


@dataclass
class Options:
    """Every (campaign, arm) option for the covered users as one matrix, so one policy call
    decides across campaigns: each user gets at most one contact."""

    users: list[str]
    uplift: np.ndarray  # (users, options) predicted uplift, NaN where the user is not covered
    value: np.ndarray  # uplift x margin, -inf where unavailable (not covered, other channel)
    cost: np.ndarray  # (options,)
    option: list[tuple[Scored, int]]  # the campaign's scored users and the arm (1..K)

    @classmethod
    def build(cls, usable: list[Scored], channel: str | None) -> Options:
        users = sorted({u for s in usable for u in s.user_ids})
        index = {u: i for i, u in enumerate(users)}
        uplifts, values, costs, option = [], [], [], []
        for s in usable:
            economics = s.loaded.meta.economics
            rows = np.array([index[u] for u in s.user_ids])
            for k, arm_channel in enumerate(s.loaded.meta.campaign.arm_channels(), start=1):
                uplift = np.full(len(users), np.nan)
                uplift[rows] = s.uplift[:, k - 1]
                offered = channel in (None, arm_channel)
                uplifts.append(uplift)
                values.append(np.where(np.isnan(uplift) | (not offered), -np.inf,
                                       uplift * economics.margin))
                costs.append(economics.contact_cost[k - 1])
                option.append((s, k))
        return cls(users, np.column_stack(uplifts), np.column_stack(values), np.array(costs),
                   option)

    def describe(self, row: int, column: int) -> dict[str, Any]:
        scored, arm = self.option[column]
        campaign = scored.loaded.meta.campaign
        return {"user_id": self.users[row], "campaign": campaign.campaign_id,
                "arm": campaign.arms[arm],
                "estimated_uplift": round(float(self.uplift[row, column]), 5),
                "expected_incremental_profit": round(float(self.value[row, column]
                                                           - self.cost[column]), 4),
                "cost": float(self.cost[column])}


def _user_known(settings: Settings, user_id: str) -> bool:
    con = warehouse.open_shared(settings.warehouse)
    try:
        return con.execute("SELECT 1 FROM users WHERE user_id = ?", [user_id]).fetchone() is not None
    finally:
        con.close()


def _for_user(settings: Settings, user_id: str, models: list[Loaded],
              channel: str | None) -> dict[str, Any]:
    usable, refusals = [], []
    for loaded in models:
        scored = _score(settings, loaded, [user_id])
        campaign = loaded.meta.campaign.campaign_id
        if scored.not_in_experiment:
            refusals.append(f"user {user_id!r} was not in experiment {campaign}, so there are no "
                            "pre-treatment covariates to predict from")
        elif scored.outside:
            refusals.append(f"user {user_id!r} lies outside the population of experiment "
                            f"{campaign}: {scored.outside[user_id]}")
        else:
            usable.append(scored)
    if not usable:
        if not _user_known(settings, user_id):
            raise ToolError(f"unknown user_id {user_id!r} in shop {settings.shop!r}")
        raise ToolError("; ".join(refusals) + ". No effect estimate is given for them.")
    options = Options.build(usable, channel)
    profit = options.value[0] - options.cost
    best = int(profit.argmax())
    scored, arm = options.option[best]
    meta, treat = scored.loaded.meta, bool(profit[best] > 0)
    uplift = float(options.uplift[0, best])
    heldout = interval([scored.loaded.calibration.draws(np.array([arm]), np.array([uplift]))])
    return {
        "user_id": user_id,
        "treat": treat,
        "arm": meta.campaign.arms[arm if treat else 0],
        "best_arm": meta.campaign.arms[arm],
        "estimated_uplift": round(uplift, 5),
        "uplift_by_arm": {a: round(float(u), 5)
                          for a, u in zip(meta.campaign.arms[1:], scored.uplift[0])},
        "heldout_uplift_of_similar_users": _rounded(heldout["conversions"], 5),
        "expected_incremental_revenue": round(uplift * meta.economics.order_value, 4),
        "expected_cost": float(options.cost[best]),
        "expected_incremental_profit": round(float(profit[best]), 4),
        "why": ("expected incremental profit = uplift x margin - contact cost = "
                f"{uplift:.4f} x {meta.economics.margin:.2f} - {options.cost[best]:.2f}, "
                f"{'positive' if treat else 'not positive'}"),
        "model": _model_card(meta),
    }


def _decide(settings: Settings, segment, models: list[Loaded], channel, budget, max_users):
    """The segment's users, their scores per campaign, and the chosen (user, arm) plan."""
    from tools.segments import resolve_segment

    members = resolve_segment(settings, segment)
    if not members:
        raise ToolError(f"segment {segment!r} has no users")
    scored = [_score(settings, loaded, members) for loaded in models]
    usable = [s for s in scored if s.user_ids]
    if not usable:
        names = ", ".join(m.meta.campaign.campaign_id for m in models)
        raise ToolError(f"none of the {len(members)} users of segment {segment!r} was in a "
                        f"randomised experiment the models cover ({names}), or inside its "
                        "trained population; no effect estimate is given for them")
    options = Options.build(usable, channel)
    return members, scored, usable, options, choose(options.value, options.cost, budget,
                                                     max_users)


def plan_rows(settings: Settings, segment: str | dict[str, Any] | None = None,
              channel: str | None = None, budget: float | None = None,
              max_users: int | None = None) -> list[dict[str, Any]]:
    """Every user the plan treats, with the campaign arm to send them (the whole plan, not just
    the top users the tool shows): what a shop's e-mail or ad tool needs as a list."""
    models = _models(settings, channel)
    _, _, _, options, decision = _decide(settings, {} if segment is None else segment, models,
                                         channel, budget, max_users)
    rows = [options.describe(r, c) for r, c in zip(decision.rows, decision.column)]
    return sorted(rows, key=lambda row: (row["campaign"], row["arm"], row["user_id"]))


def _for_segment(settings: Settings, segment, models: list[Loaded], channel, budget, max_users):
    members, scored, usable, options, decision = _decide(settings, segment, models, channel,
                                                         budget, max_users)
    draws, by_arm = [], {}
    model_estimate = {"conversions": 0.0, "revenue": 0.0}
    for s in usable:
        mine = [(r, c) for r, c in zip(decision.rows, decision.column) if options.option[c][0] is s]
        if not mine:
            continue
        arms = np.array([options.option[c][1] for _, c in mine])
        uplift = np.array([options.uplift[r, c] for r, c in mine])
        draws.append(s.loaded.calibration.draws(arms, uplift))
        model_estimate["conversions"] += float(uplift.sum())
        model_estimate["revenue"] += float(uplift.sum() * s.loaded.meta.economics.order_value)
        for arm in arms:
            name = f"{s.loaded.meta.campaign.campaign_id}:{s.loaded.meta.campaign.arms[arm]}"
            by_arm[name] = by_arm.get(name, 0) + 1
    heldout = interval(draws) if draws else None
    covered = set(options.users)
    outside = {u for s in scored for u in s.outside} - covered
    return {
        "segment": segment if isinstance(segment, str) else json.dumps(segment, sort_keys=True),
        "users_in_segment": len(members),
        "users_covered_by_experiment": len(covered),
        "users_outside_trained_population": len(outside),
        "users_not_in_any_experiment": len(set(members) - covered - outside),
        "budget": budget, "max_users": max_users,
        "plan": {
            "users_treated": len(decision.rows),
            "by_arm": by_arm,
            "total_cost": round(float(decision.cost.sum()), 2),
            "budget_shadow_price": round(decision.price, 4),
            "expected_incremental_conversions": {
                "model": round(model_estimate["conversions"], 3),
                "heldout_95": _rounded(heldout["conversions"]) if heldout else None},
            "expected_incremental_revenue": {
                "model": round(model_estimate["revenue"], 2),
                "heldout_95": _rounded(heldout["revenue"]) if heldout else None},
        },
        "top_users": [options.describe(r, c) for r, c in
                      zip(decision.rows[:TOP_USERS], decision.column[:TOP_USERS])],
        "models": [_model_card(s.loaded.meta) for s in usable],
        "note": "heldout_95 = observed uplift of similar users in the experiment's held-out split, "
                "with a 95% bootstrap interval; 'model' = the sum of predicted uplifts",
    }


def _rounded(values: dict[str, float], digits: int = 3) -> dict[str, float]:
    return {k: round(v, digits) for k, v in values.items()}


def headline(result: dict) -> str:
    if "plan" not in result:  # one user
        uplift = f"estimated uplift {result['estimated_uplift'] * 100:+.1f} points"
        profit = f"expected incremental profit {result['expected_incremental_profit']:.2f}"
        if result["treat"]:
            return f"Contact {result['user_id']} by {result['arm']}: {uplift}, {profit}."
        return (f"Do not contact {result['user_id']}: the best arm ({result['best_arm']}, "
                f"{uplift}) does not pay for its cost ({profit}).")
    plan = result["plan"]
    whom = "all customers" if result["segment"] == "{}" else f"segment {result['segment']}"
    limits = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in
                       (("budget", result["budget"]), ("max_users", result["max_users"])) if v)
    arms = ", ".join(f"{n:,} by {arm.split(':')[-1]}" for arm, n in plan["by_arm"].items())
    text = (f"Plan for {whom}{f' ({limits})' if limits else ''}: contact "
            f"{plan['users_treated']:,} of {result['users_in_segment']:,} users"
            f"{f' ({arms})' if arms else ''} for {plan['total_cost']:,.2f}; expected "
            f"{plan['expected_incremental_conversions']['model']:.1f} extra conversions and "
            f"{plan['expected_incremental_revenue']['model']:,.2f} extra revenue (model estimate).")
    if result["top_users"]:
        text += f" First on the list: {result['top_users'][0]['user_id']}."
    return text


@tool(
    "suggest_intervention",
    "Whom to target with which campaign arm (e-mail, coupon, ad), by uplift: the incremental "
    "conversion probability that randomised experiments attribute to the contact. For one user: "
    "treat or not, which arm, estimated uplift, expected incremental revenue and cost. For a "
    "segment: the ranked plan under an optional budget or user cap and its expected incremental "
    "outcome. Refuses channels or users that no experiment covers.",
    SuggestInterventionArgs,
    roles={"operator"},
    headline=headline,
)
def suggest_intervention(ctx: ToolContext, args: SuggestInterventionArgs) -> dict:
    try:
        models = _models(ctx.settings, args.channel)
        if args.user_id is not None:
            return _for_user(ctx.settings, args.user_id.strip(), models, args.channel)
        segment = {} if args.segment is None else args.segment  # {}: no filter, everyone
        return _for_segment(ctx.settings, segment, models, args.channel, args.budget,
                            args.max_users)
    except warehouse.WarehouseMissingError as err:
        raise ToolError(str(err)) from err
