"""Drift of a served behaviour model: are today's users like the ones it was trained on, has the
label rate moved, and how well does it still rank now that a newer window's outcome is known.

Per feature: the population stability index (PSI, deciles of the training rows, missing values
as their own bin) between the model's training cutoffs and the current users, and the
two-sample Kolmogorov-Smirnov statistic (scipy). Label shift: the positive rate of the newest
labelled window (cutoff = now - horizon) against the training windows'. Realised quality: the
served model's AUC and ECE on that newest window, and on the answers it really gave
(`prediction_log`) whose outcome window has closed.

Why not Evidently: its wheel alone is 12 MB and it pulls in litestar, uvicorn, plotly, nltk,
statsmodels, dynaconf, watchdog and a telemetry client; PSI and KS are a few lines over
numpy/scipy, which the project already has, and the HTML report is one table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel
from scipy.stats import ks_2samp

from finetune.behavior import prediction_log
from finetune.behavior.artifacts import ModelMeta
from finetune.behavior.metrics import expected_calibration_error
from finetune.behavior.prediction_log import LoggedQuality
from finetune.gate import fast_auc
from knowledge.features import build_features, data_cutoff
from knowledge.labels import labels_after, labels_complete
from knowledge.settings import Settings

EPS = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `current` against `reference`: sum (c - r) ln(c / r) over
    the reference's quantile bins plus one bin for missing values."""
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    ref_ok, cur_ok = reference[~np.isnan(reference)], current[~np.isnan(current)]
    edges = (np.unique(np.quantile(ref_ok, np.linspace(0, 1, bins + 1)[1:-1]))
             if len(ref_ok) else np.array([]))

    def shares(values: np.ndarray, present: np.ndarray) -> np.ndarray:
        counts = np.bincount(np.searchsorted(edges, present, side="right"),
                             minlength=len(edges) + 1).astype(float)
        counts = np.append(counts, len(values) - len(present))  # the missing bin
        return np.maximum(counts / max(len(values), 1), EPS)

    r, c = shares(reference, ref_ok), shares(current, cur_ok)
    return float(np.sum((c - r) * np.log(c / r)))


class FeatureDrift(BaseModel):
    feature: str
    psi: float
    ks: float
    ks_pvalue: float
    reference_mean: float | None
    current_mean: float | None
    flagged: bool


class DriftReport(BaseModel):
    shop: str
    task: str
    model: str
    version: str
    reference_cutoffs: list[str]
    current_cutoff: str
    reference_rows: int
    current_rows: int
    psi_threshold: float
    features: list[FeatureDrift]
    flagged: list[str]
    label_rate_reference: float
    label_rate_newest: float | None
    label_window: str | None
    label_shift_threshold: float
    label_shift_flagged: bool
    realised_auc: float | None
    realised_ece: float | None
    served_log: LoggedQuality
    created_at: str


def _mean(values: pd.Series) -> float | None:
    value = values.mean()
    return None if pd.isna(value) else float(value)


def compare_features(reference: pd.DataFrame, current: pd.DataFrame,
                     threshold: float) -> list[FeatureDrift]:
    """PSI and KS per column of `reference` (also in `current`), largest PSI first."""
    out = []
    for column in reference.columns:
        ref, cur = reference[column].to_numpy(float), current[column].to_numpy(float)
        ref_ok, cur_ok = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        ks = ks_2samp(ref_ok, cur_ok) if len(ref_ok) and len(cur_ok) else None
        value = psi(ref, cur)
        out.append(FeatureDrift(
            feature=column, psi=value, ks=float(ks.statistic) if ks else 0.0,
            ks_pvalue=float(ks.pvalue) if ks else 1.0, reference_mean=_mean(reference[column]),
            current_mean=_mean(current[column]), flagged=value >= threshold))
    return sorted(out, key=lambda f: -f.psi)


def drift_report(con: duckdb.DuckDBPyConnection, settings: Settings, meta: ModelMeta,
                 served: Callable[[pd.DataFrame], np.ndarray] | None = None) -> DriftReport:
    """The report for one served model; `served(features) -> probabilities` gives the realised
    AUC/ECE on the newest labelled window (skipped when None)."""
    cutoffs = [datetime.strptime(c, "%Y-%m-%d") for c in meta.cutoffs["train"]]
    frames = [build_features(con, c, categories=meta.categories) for c in cutoffs]
    reference = pd.concat(frames)
    labels = np.concatenate([labels_after(con, c, meta.horizon_days, list(f.index), meta.event)
                             for c, f in zip(cutoffs, frames)])
    now = data_cutoff(con)
    current = build_features(con, now, categories=meta.categories)
    features = compare_features(reference, current, settings.drift_psi_threshold)
    newest = now - timedelta(days=meta.horizon_days)
    rate = auc = ece = None
    if labels_complete(con, newest, meta.horizon_days) and newest > cutoffs[0]:
        window = build_features(con, newest, categories=meta.categories)
        y = labels_after(con, newest, meta.horizon_days, list(window.index),
                         meta.event).to_numpy()
        rate = float(y.mean()) if len(y) else None
        if served is not None and len(y) and 0 < y.sum() < len(y):
            p = served(window)
            auc, ece = fast_auc(y, p), expected_calibration_error(y, p)
    reference_rate = float(labels.mean())
    return DriftReport(
        shop=meta.shop, task=meta.task, model=meta.model, version=meta.version,
        reference_cutoffs=meta.cutoffs["train"], current_cutoff=f"{now:%Y-%m-%d}",
        reference_rows=len(reference), current_rows=len(current),
        psi_threshold=settings.drift_psi_threshold, features=features,
        flagged=[f.feature for f in features if f.flagged],
        label_rate_reference=reference_rate, label_rate_newest=rate,
        label_window=f"{newest:%Y-%m-%d} + {meta.horizon_days} d" if rate is not None else None,
        label_shift_threshold=settings.drift_label_shift,
        label_shift_flagged=rate is not None and abs(rate - reference_rate)
        >= settings.drift_label_shift,
        realised_auc=auc, realised_ece=ece,
        served_log=prediction_log.quality(con, settings, meta.task, meta.version, meta.event),
        created_at=datetime.now().isoformat(timespec="seconds"))
