"""Randomised experiments from the warehouse, as arrays the uplift models train on.

An experiment is a row of ``campaigns`` (randomized = TRUE) with its ``campaign_assignments``:
the arm each user drew, the outcomes, and the pre-treatment covariates (a JSON object per user).
``FeatureSpec`` turns covariates into a numeric matrix (numbers as they are, text one-hot) and
remembers the ranges and categories seen in training, so a tool can refuse users outside them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel

from knowledge import warehouse

OUTCOMES = ("conversion", "visit")
CHANNELS = ("email", "coupon", "ad")


class ExperimentError(ValueError):
    """No usable experiment in the warehouse; the message says what to import or pick."""


class Campaign(BaseModel):
    campaign_id: str
    name: str
    channel: str
    arms: list[str]  # the first is the control
    outcome_window_days: int | None = None
    description: str | None = None

    def arm_channels(self) -> list[str]:
        """Channel of each treatment arm: named in the arm ("coupon", "mens_email"), else the
        campaign's own channel."""
        out = []
        for arm in self.arms[1:]:
            named = [c for c in CHANNELS if c in arm.lower().replace("-", "_").split("_")]
            out.append(named[0] if named else self.channel)
        return out


@dataclass
class Experiment:
    campaign: Campaign
    user_ids: np.ndarray
    covariates: pd.DataFrame
    arm: np.ndarray  # index into campaign.arms, 0 = control
    outcomes: dict[str, np.ndarray]  # conversion / visit as 0/1 (visit missing if not recorded)
    spend: np.ndarray | None  # NaN where not recorded; None if never recorded
    true_uplift: np.ndarray | None  # synthetic shop only

    @property
    def propensity(self) -> np.ndarray:
        """Assignment probability of each arm. The randomisation fixed it; with no recorded
        design we use the realised arm shares, which estimate it without bias."""
        return np.bincount(self.arm, minlength=len(self.campaign.arms)) / len(self.arm)

    def outcome(self, name: str) -> np.ndarray:
        if name not in self.outcomes:
            raise ExperimentError(f"campaign {self.campaign.campaign_id} has no outcome {name!r}; "
                                  f"it has: {', '.join(self.outcomes)}")
        return self.outcomes[name]


def randomized_campaigns(con: duckdb.DuckDBPyConnection) -> list[Campaign]:
    rows = con.execute(
        "SELECT c.campaign_id, name, channel, arms, outcome_window_days, description "
        "FROM campaigns c WHERE randomized AND EXISTS "
        "(SELECT 1 FROM campaign_assignments a WHERE a.campaign_id = c.campaign_id) "
        "ORDER BY c.campaign_id").fetchall()
    keys = ["campaign_id", "name", "channel", "arms", "outcome_window_days", "description"]
    return [Campaign(**{**dict(zip(keys, r)), "arms": json.loads(r[3])}) for r in rows]


def data_version(path: Path) -> str | None:
    """When the warehouse was last imported: a model trained on another version is stale."""
    con = warehouse.connect(path)
    try:
        row = con.execute("SELECT max(imported_at) FROM imports").fetchone()
    finally:
        con.close()
    return row[0].isoformat(timespec="seconds") if row and row[0] else None


def load_experiment(path: Path, campaign_id: str | None = None) -> Experiment:
    """The named randomised campaign of the warehouse at ``path`` (default: its only one)."""
    con = warehouse.connect(path)
    try:
        campaigns = {c.campaign_id: c for c in randomized_campaigns(con)}
        if not campaigns:
            raise ExperimentError(f"warehouse {path} holds no randomised campaign with assignments; "
                                  "import one (`shopmind data import hillstrom` or `synthetic`, "
                                  "or the shop's own experiment: tables.assignments in shop.yaml, "
                                  "docs/own_shop.md)")
        if campaign_id is None:
            if len(campaigns) > 1:
                raise ExperimentError(f"warehouse {path} holds several randomised campaigns "
                                      f"({', '.join(campaigns)}); pick one with --campaign")
            campaign_id = next(iter(campaigns))
        if campaign_id not in campaigns:
            raise ExperimentError(f"no randomised campaign {campaign_id!r} in {path}; "
                                  f"available: {', '.join(campaigns)}")
        frame = con.execute(
            "SELECT user_id, arm, visit, conversion, spend, covariates, true_uplift "
            "FROM campaign_assignments WHERE campaign_id = ? ORDER BY user_id",
            [campaign_id]).df()
    finally:
        con.close()
    return _experiment(campaigns[campaign_id], frame)


def _experiment(campaign: Campaign, frame: pd.DataFrame) -> Experiment:
    unknown = sorted(set(frame["arm"]) - set(campaign.arms))
    if unknown:
        raise ExperimentError(f"campaign {campaign.campaign_id}: assignments use arm(s) {unknown} "
                              f"that the campaign does not list ({campaign.arms})")
    if frame["covariates"].isna().any():
        raise ExperimentError(f"campaign {campaign.campaign_id}: some assignments have no "
                              "covariates; uplift models need pre-treatment features for everyone")
    outcomes = {"conversion": frame["conversion"].astype(int).to_numpy()}
    if frame["visit"].notna().all():
        outcomes["visit"] = frame["visit"].astype(int).to_numpy()
    return Experiment(
        campaign=campaign,
        user_ids=frame["user_id"].to_numpy(),
        covariates=covariates_frame(frame["covariates"]),
        arm=frame["arm"].map({a: i for i, a in enumerate(campaign.arms)}).to_numpy(),
        outcomes=outcomes,
        spend=frame["spend"].to_numpy(float) if frame["spend"].notna().any() else None,
        true_uplift=frame["true_uplift"].to_numpy(float) if frame["true_uplift"].notna().all()
        else None,
    )


def covariates_frame(raw: pd.Series) -> pd.DataFrame:
    """JSON covariate objects (strings or dicts) -> one column per key."""
    return pd.DataFrame([json.loads(c) if isinstance(c, str) else c for c in raw])


class FeatureSpec(BaseModel):
    """How covariates become model inputs, and the population the model was trained on."""

    numeric: dict[str, tuple[float, float]]  # column -> (min, max) seen in training
    categorical: dict[str, list[str]]  # column -> categories seen in training ("None" = missing)
    missing_ok: list[str] = []  # numeric columns that were missing for some trained users

    @classmethod
    def fit(cls, covariates: pd.DataFrame) -> FeatureSpec:
        numeric, categorical, missing_ok = {}, {}, []
        for col in covariates.columns:
            values = covariates[col]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                numeric[col] = (float(values.min()), float(values.max()))
                if values.isna().any():
                    missing_ok.append(col)
            else:
                categorical[col] = sorted(_text(values).unique().tolist())
        return cls(numeric=numeric, categorical=categorical, missing_ok=missing_ok)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *(f"{c}={v}" for c, vs in self.categorical.items() for v in vs)]

    def _check_columns(self, covariates: pd.DataFrame) -> None:
        missing = [c for c in [*self.numeric, *self.categorical] if c not in covariates.columns]
        if missing:
            raise ExperimentError(f"covariates lack column(s) {', '.join(missing)} that the model "
                                  "was trained on")

    def transform(self, covariates: pd.DataFrame) -> np.ndarray:
        self._check_columns(covariates)
        parts = [covariates[list(self.numeric)].to_numpy(float)]
        for col, values in self.categorical.items():
            text = _text(covariates[col]).to_numpy()
            parts.append((text[:, None] == np.array(values)[None, :]).astype(float))
        return np.hstack(parts)

    def outside(self, covariates: pd.DataFrame) -> list[str | None]:
        """Per row, why it lies outside the training population (None if inside)."""
        self._check_columns(covariates)
        reasons: list[list[str]] = [[] for _ in range(len(covariates))]
        for col, (low, high) in self.numeric.items():
            values = pd.to_numeric(covariates[col], errors="coerce").to_numpy(float)
            bad = ~((values >= low) & (values <= high))
            if col in self.missing_ok:
                bad &= ~np.isnan(values)
            for i in np.flatnonzero(bad):
                reasons[i].append(f"{col}={values[i]:g} outside the trained range [{low:g}, {high:g}]")
        for col, known in self.categorical.items():
            text = _text(covariates[col]).to_numpy()
            for i in np.flatnonzero(~np.isin(text, known)):
                reasons[i].append(f"{col}={text[i]!r} never seen in the experiment")
        return ["; ".join(r) if r else None for r in reasons]


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "None").astype(str)
