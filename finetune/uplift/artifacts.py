"""Uplift artifacts: artifacts_dir/uplift/<shop>/<campaign_id>/{meta.json, model.pkl,
calibration.npz, scores.npz}, one folder per randomised campaign, replaced atomically on
retraining. scores.npz holds the predicted uplift of every user of the experiment (their
covariates are pre-treatment and fixed), so the tool looks them up instead of re-predicting."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from finetune.uplift.data import Campaign, FeatureSpec
from finetune.uplift.policy import Calibration, Economics
from knowledge.artifacts import replaced, utc_now, write_meta
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
    created_at: str = Field(default_factory=utc_now)


@dataclass
class Scores:
    user_ids: np.ndarray  # sorted
    uplift: np.ndarray  # (users, treatment arms)

    @classmethod
    def of(cls, user_ids: np.ndarray, uplift: np.ndarray) -> Scores:
        order = np.argsort(user_ids)
        return cls(np.asarray(user_ids, dtype=str)[order], uplift[order])

    def lookup(self, user_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask over user_ids, uplift of the found ones)."""
        wanted = np.asarray(user_ids, dtype=str)
        pos = np.minimum(np.searchsorted(self.user_ids, wanted), len(self.user_ids) - 1)
        found = self.user_ids[pos] == wanted
        return found, self.uplift[pos[found]]


def shop_dir(settings: Settings, shop: str) -> Path:
    return settings.artifacts_dir / "uplift" / shop


def save(settings: Settings, meta: UpliftMeta, model, calibration: Calibration,
         scores: Scores) -> Path:
    root = shop_dir(settings, meta.shop)
    final = root / meta.campaign.campaign_id
    with replaced(final) as tmp:
        tmp.mkdir()
        with open(tmp / "model.pkl", "wb") as handle:
            pickle.dump(model, handle)
        calibration.save(tmp / "calibration.npz")
        np.savez(tmp / "scores.npz", user_ids=scores.user_ids, uplift=scores.uplift)
        write_meta(tmp, meta)
    _write_index(root)
    return final


def _write_index(root: Path) -> None:
    """artifacts_dir/uplift/<shop>/meta.json: which campaigns have a model, and their channel."""
    entries = {}
    for meta in list_models(root):
        entries[meta.campaign.campaign_id] = {
            "channel": meta.campaign.channel, "model": meta.model, "outcome": meta.outcome,
            "created_at": meta.created_at}
    write_meta(root, {"campaigns": entries})


def list_models(root: Path) -> list[UpliftMeta]:
    if not root.is_dir():
        return []
    return [UpliftMeta.model_validate_json(p.read_text())
            for p in sorted(root.glob("[!.]*/meta.json"))]


def load(folder: Path) -> tuple[UpliftMeta, object, Calibration, Scores]:
    meta = UpliftMeta.model_validate_json((folder / "meta.json").read_text())
    with open(folder / "model.pkl", "rb") as handle:  # our own artifact, written by save()
        model = pickle.load(handle)
    calibration = Calibration.load(folder / "calibration.npz")
    with np.load(folder / "scores.npz") as z:
        scores = Scores(z["user_ids"], z["uplift"])
    return meta, model, calibration, scores
