"""Train one uplift model per randomised campaign of a shop, save it as a new version with its
metrics, register it and promote it if the gate passes it (`promotion`).

The experiment is split 70/30, stratified by arm x outcome; the model is fit on the 70% and
everything in meta.json (Qini AUC, AUUC, uplift@k vs ATE; correlation/PEHE against the true
effects where the data has them) is measured on the 30%, which also calibrates the policy.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from finetune.uplift import artifacts
from finetune.uplift.data import (
    Experiment,
    ExperimentError,
    FeatureSpec,
    data_version,
    load_experiment,
    randomized_campaigns,
)
from finetune.uplift.metrics import evaluate
from finetune.uplift.models import build, leaf_size
from finetune.uplift.policy import CONTACT_COST, Calibration, Economics
from finetune.uplift.promotion import register_and_gate
from knowledge import warehouse
from knowledge.settings import Settings

DEFAULT_MODEL = "s_learner"


def split(exp: Experiment, outcome: str, seed: int, test_size: float = 0.3):
    """Row indices of a train/test split stratified by arm x outcome."""
    strata = exp.arm * 2 + exp.outcome(outcome)
    return train_test_split(np.arange(len(exp.arm)), test_size=test_size, stratify=strata,
                            random_state=seed)


def per_arm_metrics(exp: Experiment, rows: np.ndarray, uplift: np.ndarray,
                    outcome: str) -> dict[str, dict[str, float]]:
    """Held-out metrics of each treatment arm against the control."""
    y, arm = exp.outcome(outcome)[rows], exp.arm[rows]
    out = {}
    for k, name in enumerate(exp.campaign.arms[1:], start=1):
        pair = (arm == 0) | (arm == k)
        out[name] = evaluate(y[pair], uplift[pair, k - 1], (arm[pair] == k).astype(int))
    return out


def true_effect_metrics(exp: Experiment, rows: np.ndarray,
                        uplift: np.ndarray) -> dict[str, dict[str, float]] | None:
    """Correlation and PEHE (root mean squared error) against the known per-user effects. The
    true effect is stored per user for the arm they drew; treated users are compared."""
    if exp.true_uplift is None:
        return None
    out = {}
    for k, name in enumerate(exp.campaign.arms[1:], start=1):
        mine = rows[exp.arm[rows] == k]
        if len(mine) < 2:
            continue
        pred, true = uplift[np.isin(rows, mine), k - 1], exp.true_uplift[mine]
        corr = np.corrcoef(pred, true)[0, 1] if pred.std() > 0 and true.std() > 0 else None
        out[name] = {"corr": None if corr is None else float(corr),
                     "pehe": float(np.sqrt(np.mean((pred - true) ** 2))), "users": len(mine)}
    return out


def default_economics(exp: Experiment, margin_rate: float,
                      contact_cost: float | None) -> Economics:
    converted = exp.outcomes["conversion"] == 1
    spend = exp.spend[converted] if exp.spend is not None else np.array([])
    spend = spend[~np.isnan(spend)]
    if not len(spend):
        raise ExperimentError(f"campaign {exp.campaign.campaign_id} records no spend of any "
                              "converter, so a conversion has no value to plan with")
    costs = [contact_cost if contact_cost is not None else CONTACT_COST[channel]
             for channel in exp.campaign.arm_channels()]
    return Economics(order_value=float(spend.mean()), margin_rate=margin_rate,
                     contact_cost=costs)


def train_campaign(settings: Settings, shop: str, path: Path, campaign_id: str | None,
                   model_name: str = DEFAULT_MODEL, outcome: str = "conversion",
                   quick: bool = False, margin_rate: float = 0.3,
                   contact_cost: float | None = None) -> artifacts.UpliftMeta:
    started = time.perf_counter()
    exp = load_experiment(path, campaign_id)
    spec = FeatureSpec.fit(exp.covariates)
    X, y = spec.transform(exp.covariates), exp.outcome(outcome)
    train, test = split(exp, outcome, settings.seed)
    leaf = leaf_size(len(train))
    model = build(model_name, leaf, quick, settings.seed)
    model.fit(X[train], exp.arm[train], y[train], exp.propensity)
    uplift = model.predict(X[test])
    economics = default_economics(exp, margin_rate, contact_cost)
    conversion_value = exp.outcomes["conversion"][test] * economics.order_value
    value = conversion_value if exp.spend is None else np.where(
        np.isnan(exp.spend[test]), conversion_value, exp.spend[test])
    calibration = Calibration.fit(uplift, exp.arm[test], exp.outcomes["conversion"][test], value)
    meta = artifacts.UpliftMeta(
        version=artifacts.new_version(model_name), shop=shop, campaign=exp.campaign,
        outcome=outcome, model=model_name,
        params={"leaf": leaf, "quick": quick},
        propensity=exp.propensity.tolist(), features=spec, economics=economics,
        rows={"train": len(train), "test": len(test)},
        metrics=per_arm_metrics(exp, test, uplift, outcome),
        true_effect=true_effect_metrics(exp, test, uplift),
        data_version=data_version(path), train_seconds=round(time.perf_counter() - started, 2))
    held_out = np.zeros(len(exp.user_ids), dtype=bool)
    held_out[test] = True
    scores = artifacts.Scores.of(exp.user_ids, model.predict(X), held_out)
    folder = artifacts.save(settings, meta, model, calibration, scores)
    register_and_gate(settings, meta, folder, exp, test, uplift)
    return meta


def train_shop(settings: Settings, shop: str, **options) -> list[artifacts.UpliftMeta]:
    """Train every randomised campaign of ``shop``, importing its warehouse first if missing."""
    path = settings.warehouse if shop == settings.shop else settings.warehouse_for(shop)
    if not path.is_file():
        from knowledge.cli import import_source

        import_source(settings, shop, into=path)
    con = warehouse.connect(path)
    try:
        campaigns = [c.campaign_id for c in randomized_campaigns(con)]
    finally:
        con.close()
    if not campaigns:
        raise ExperimentError(f"warehouse {path} holds no randomised campaign; nothing to train")
    return [train_campaign(settings, shop, path, cid, **options) for cid in campaigns]


def is_current(settings: Settings) -> bool:
    """Whether the newest version of every randomised campaign of the active shop was trained
    on the warehouse as it is now (for `shopmind up` and `shopmind retrain`; a candidate the
    gate refused counts). A shop without campaigns needs none."""
    path = settings.warehouse
    if not path.is_file():
        return False
    con = warehouse.connect(path)
    try:
        campaigns = {c.campaign_id for c in randomized_campaigns(con)}
    finally:
        con.close()
    version = data_version(path) if campaigns else None
    trained = {c: m.data_version
               for c, m in artifacts.latest_per_campaign(settings, settings.shop).items()}
    return all(c in trained and trained[c] == version for c in campaigns)
