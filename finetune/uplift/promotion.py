"""The uplift model's promotion gate: the Qini coefficient of the candidate and of the serving
version (each treatment arm against the control, averaged over the arms), on the held-out users
of the experiment that neither was trained on, compared by a paired bootstrap over users
(`finetune.gate.metric_gate`).

The experiment is one randomised sample, not a time series: its newest held-out window is the
candidate's test split, less the users the serving version was trained on (``scores.npz`` says
which users each version held out). With nothing serving, the reference is random targeting
(Qini 0): a first version is refused when it ranks surely worse than random.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from finetune import registry
from finetune.gate import GateVerdict, Statistic, bootstrap_options, metric_gate, settle
from finetune.uplift import artifacts
from finetune.uplift.data import Experiment
from finetune.uplift.metrics import qini_auc
from knowledge.settings import Settings


def mean_qini(y: np.ndarray, uplift: np.ndarray, arm: np.ndarray) -> Statistic:
    """The Qini coefficient of each treatment arm against the control, averaged over the arms,
    for the users at the drawn indices (NaN where a draw leaves an arm's undefined: no treated
    or no control user, no response difference)."""
    def statistic(i: np.ndarray) -> float:
        values = []
        for k in range(1, uplift.shape[1] + 1):
            pair = i[(arm[i] == 0) | (arm[i] == k)]
            try:
                values.append(qini_auc(y[pair], uplift[pair, k - 1], arm[pair] == k))
            except ValueError:
                return float("nan")
        return float(np.mean(values))
    return statistic


def uplift_gate(settings: Settings, y: np.ndarray, arm: np.ndarray, candidate: np.ndarray,
                serving: np.ndarray | None) -> GateVerdict:
    """Mean Qini over the arms of the candidate's and the serving version's predicted uplift
    (users x arms) of the same users, paired bootstrap over those users."""
    return metric_gate("Qini (mean over arms)", len(y), mean_qini(y, candidate, arm),
                       None if serving is None else mean_qini(y, serving, arm),
                       margin=settings.gate_qini_margin, **bootstrap_options(settings))


def register_and_gate(settings: Settings, meta: artifacts.UpliftMeta, folder: Path,
                      exp: Experiment, test: np.ndarray, uplift: np.ndarray) -> GateVerdict:
    """Register the version saved in ``folder`` as a candidate of ``uplift/<shop>/<campaign>``,
    gate it against the serving version on the ``test`` rows (its predictions: ``uplift``)
    that the serving version was not trained on, promote it if it passes."""
    slot = registry.uplift_slot(meta.shop, meta.campaign.campaign_id)
    registry.register(settings, slot, registry.Version(
        version=meta.version, path=str(folder.relative_to(settings.artifacts_dir)),
        model=meta.model, data_window={"data_version": meta.data_version, "rows": meta.rows},
        metrics={"test": meta.metrics},
        created_at=meta.created_at))
    current = registry.load(settings).slots[slot].serving
    keep, serving = np.ones(len(test), dtype=bool), None
    if current is not None:
        old_meta, old_model, _, old_scores = artifacts.load(
            registry.artifact_folder(settings, current))
        keep = ~np.isin(exp.user_ids[test], old_scores.trained_on())
        covariates = exp.covariates.iloc[test[keep]].reset_index(drop=True)
        if old_meta.campaign.arms == meta.campaign.arms:  # else nothing comparable serves
            serving = (old_model.predict(old_meta.features.transform(covariates))
                       if keep.any() else np.zeros((0, len(meta.campaign.arms) - 1)))
    rows = test[keep]
    verdict = uplift_gate(settings, exp.outcome(meta.outcome)[rows], exp.arm[rows],
                          uplift[keep], serving)
    settle(settings, slot, meta.version, [verdict])
    return verdict
