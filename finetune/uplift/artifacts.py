"""Uplift artifacts: artifacts_dir/uplift/<shop>/<campaign_id>/<version>/{meta.json, model.pkl,
calibration.npz, scores.npz}, a new version folder per training (never changed afterwards); the
registry (slot ``uplift/<shop>/<campaign_id>``) says which one serves. scores.npz holds the
predicted uplift of every user of the experiment (their covariates are pre-treatment and fixed),
so the tool looks them up instead of re-predicting, and which of them were held out."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from finetune import registry
from finetune.uplift.data import Campaign, FeatureSpec
from finetune.uplift.policy import Calibration, Economics
from knowledge.artifacts import replaced, utc_now, write_meta
from knowledge.settings import Settings


class UpliftMeta(BaseModel):
    version: str
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
    held_out: np.ndarray  # bool per user: in the test split, not trained on

    @classmethod
    def of(cls, user_ids: np.ndarray, uplift: np.ndarray, held_out: np.ndarray) -> Scores:
        order = np.argsort(user_ids)
        return cls(np.asarray(user_ids, dtype=str)[order], uplift[order], held_out[order])

    def trained_on(self) -> np.ndarray:
        return self.user_ids[~self.held_out]

    def lookup(self, user_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask over user_ids, uplift of the found ones)."""
        wanted = np.asarray(user_ids, dtype=str)
        pos = np.minimum(np.searchsorted(self.user_ids, wanted), len(self.user_ids) - 1)
        found = self.user_ids[pos] == wanted
        return found, self.uplift[pos[found]]


def shop_dir(settings: Settings, shop: str) -> Path:
    return settings.artifacts_dir / "uplift" / shop


def new_version(model: str) -> str:
    return f"{model}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"


def save(settings: Settings, meta: UpliftMeta, model, calibration: Calibration,
         scores: Scores) -> Path:
    final = shop_dir(settings, meta.shop) / meta.campaign.campaign_id / meta.version
    with replaced(final) as tmp:
        tmp.mkdir()
        with open(tmp / "model.pkl", "wb") as handle:
            pickle.dump(model, handle)
        calibration.save(tmp / "calibration.npz")
        np.savez(tmp / "scores.npz", user_ids=scores.user_ids, uplift=scores.uplift,
                 held_out=scores.held_out)
        write_meta(tmp, meta)
    return final


def latest_per_campaign(settings: Settings, shop: str) -> dict[str, UpliftMeta]:
    """Campaign id -> its newest trained version (served or not)."""
    metas = sorted((UpliftMeta.model_validate_json(p.read_text())
                    for p in shop_dir(settings, shop).glob("[!.]*/[!.]*/meta.json")),
                   key=lambda m: m.created_at)
    return {m.campaign.campaign_id: m for m in metas}


def serving(settings: Settings, shop: str) -> list[Path]:
    """The serving version folder of every registered campaign of the shop (a RegistryError
    when the gate refused every candidate of one, or its folder is gone)."""
    prefix = registry.uplift_slot(shop, "")
    slots = sorted(s for s in registry.load(settings).slots if s.startswith(prefix))
    return [registry.serving_folder(settings, slot) for slot in slots]


def load(folder: Path) -> tuple[UpliftMeta, object, Calibration, Scores]:
    meta = UpliftMeta.model_validate_json((folder / "meta.json").read_text())
    with open(folder / "model.pkl", "rb") as handle:  # our own artifact, written by save()
        model = pickle.load(handle)
    calibration = Calibration.load(folder / "calibration.npz")
    with np.load(folder / "scores.npz") as z:
        scores = Scores(z["user_ids"], z["uplift"], z["held_out"])
    return meta, model, calibration, scores
