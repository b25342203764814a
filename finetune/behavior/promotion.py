"""After training: register the new servable versions as candidates, pick the validation
winner, gate it against the serving version on the test window (the newest labelled one) and
promote it if it passes. The verdict is stored as the version's note."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from finetune import registry
from finetune.behavior.artifacts import SERVABLE, ModelMeta
from finetune.behavior.calibration import Calibrator
from finetune.behavior.data import TaskData
from finetune.behavior.selection import pick_on_validation
from finetune.behavior.tabular import TabularModel
from finetune.gate import GateVerdict, behaviour_gate, settle
from knowledge.settings import Settings

FeaturesFor = Callable[[list[str]], pd.DataFrame]  # test-window features for these categories


class PromotionResult(BaseModel):
    slot: str
    candidates: list[str]
    winner: str
    promoted: bool
    verdict: GateVerdict


def as_version(settings: Settings, folder: Path, meta: ModelMeta) -> registry.Version:
    return registry.Version(
        version=meta.version, path=str(folder.relative_to(settings.artifacts_dir)),
        model=meta.model, data_window={**meta.cutoffs, "data_end": meta.data_end},
        metrics={k: v for k, v in meta.metrics.items() if k in ("val", "test")},
        created_at=meta.created_at)


def served_probability(folder: Path, features: pd.DataFrame) -> np.ndarray:
    """What the tool would answer for these rows: the model's score through its calibrator."""
    return Calibrator.load(folder)(TabularModel.load(folder).predict(features))


def gate_and_promote(settings: Settings, shop: str, data: TaskData,
                     trained: list[tuple[ModelMeta, Path]],
                     features_for: FeaturesFor) -> PromotionResult | None:
    """Register, choose on validation, gate on test, promote. None if nothing is servable."""
    servable = [(m, f) for m, f in trained if m.model in SERVABLE]
    if not servable:
        return None
    slot = registry.behavior_slot(shop, data.spec.name)
    for meta, folder in servable:
        registry.register(settings, slot, as_version(settings, folder, meta))
    by_model = {m.model: (m, f) for m, f in servable}
    winner, folder = by_model[pick_on_validation(
        {name: m.metrics["val"]["roc_auc"] for name, (m, _) in by_model.items()})]
    current = registry.load(settings).slots[slot].serving
    y = data.test.labels
    candidate = served_probability(folder, data.test.features)
    serving = None
    if current is not None:
        serving_folder = registry.artifact_folder(settings, current)
        serving_meta = ModelMeta.model_validate_json((serving_folder / "meta.json").read_text())
        features = (data.test.features if serving_meta.categories == data.categories
                    else features_for(serving_meta.categories))
        serving = served_probability(serving_folder, features.reindex(data.test.features.index))
    verdict = behaviour_gate(y, candidate, serving, n_boot=settings.gate_bootstrap,
                             level=settings.gate_level, auc_margin=settings.gate_auc_margin,
                             ece_margin=settings.gate_ece_margin, seed=settings.seed)
    promoted = settle(settings, slot, winner.version, [verdict],
                      note=f"validation winner of {', '.join(by_model)}")
    return PromotionResult(slot=slot, candidates=[m.version for m, _ in servable],
                           winner=winner.version, promoted=promoted, verdict=verdict)
