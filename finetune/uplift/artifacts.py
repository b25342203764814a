"""Uplift artifacts: artifacts_dir/uplift/<shop>/<campaign_id>/{meta.json, model.pkl,
calibration.npz}, one folder per randomised campaign, replaced atomically on retraining."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

from pydantic import BaseModel, Field

from finetune.uplift.data import Campaign, FeatureSpec
from finetune.uplift.policy import Calibration, Economics
from knowledge.settings import Settings


class UpliftMeta(BaseModel):
    shop: str
    campaign: Campaign
    outcome: str = Field(description="the outcome the model predicts the effect on")
    model: str
    params: dict = Field(default_factory=dict)
    propensity: list[float] = Field(description="assignment probability per arm")
    features: FeatureSpec
    economics: Economics
    rows: dict[str, int] = Field(description="train / test users")
    metrics: dict[str, dict[str, float | None]] = Field(description="held-out metrics per treatment arm")
    true_effect: dict[str, dict[str, float | None]] | None = Field(
        None, description="synthetic shop: held-out correlation and PEHE vs the true effects")
    data_version: str | None = Field(None, description="when the warehouse was imported")
    train_seconds: float
    created_at: str


def shop_dir(settings: Settings, shop: str) -> Path:
    return settings.artifacts_dir / "uplift" / shop


def save(settings: Settings, meta: UpliftMeta, model, calibration: Calibration) -> Path:
    root = shop_dir(settings, meta.shop)
    final = root / meta.campaign.campaign_id
    tmp = root / f".{meta.campaign.campaign_id}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with open(tmp / "model.pkl", "wb") as handle:
        pickle.dump(model, handle)
    calibration.save(tmp / "calibration.npz")
    (tmp / "meta.json").write_text(meta.model_dump_json(indent=2))
    if final.exists():
        old = root / f".{meta.campaign.campaign_id}.{os.getpid()}.old"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)
    _write_index(root)
    return final


def _write_index(root: Path) -> None:
    """artifacts_dir/uplift/<shop>/meta.json: which campaigns have a model, and their channel."""
    entries = {}
    for meta in list_models(root):
        entries[meta.campaign.campaign_id] = {
            "channel": meta.campaign.channel, "model": meta.model, "outcome": meta.outcome,
            "created_at": meta.created_at}
    (root / "meta.json").write_text(json.dumps({"campaigns": entries}, indent=2))


def list_models(root: Path) -> list[UpliftMeta]:
    if not root.is_dir():
        return []
    return [UpliftMeta.model_validate_json(p.read_text())
            for p in sorted(root.glob("[!.]*/meta.json"))]


def load(folder: Path) -> tuple[UpliftMeta, object, Calibration]:
    meta = UpliftMeta.model_validate_json((folder / "meta.json").read_text())
    with open(folder / "model.pkl", "rb") as handle:  # our own artifact, written by save()
        model = pickle.load(handle)
    calibration = Calibration.load(folder / "calibration.npz")
    return meta, model, calibration
