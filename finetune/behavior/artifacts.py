"""Versioned behaviour models: artifacts_dir/behavior/<shop>/<task>/<model>-<timestamp>/.

Each version folder holds the model files, its calibrator and a meta.json (`ModelMeta`). The
tool serves a tabular version (they explain their scores): the registry's serving one
(`serving_version`); encoder versions are kept for the benchmark and for blending.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from knowledge.artifacts import utc_now
from knowledge.settings import Settings

SERVABLE = {"rfm", "logreg", "logreg-all", "lightgbm"}


class ModelMeta(BaseModel):
    model: str
    version: str
    shop: str
    task: str
    event: str
    horizon_days: int
    cutoffs: dict[str, list[str]] = Field(description="train / val / test cutoffs (YYYY-MM-DD)")
    data_end: str = Field(description="last event in the warehouse it was trained from")
    categories: list[str] = Field(default_factory=list)
    metrics: dict[str, dict] = Field(default_factory=dict, description="per split: val, test")
    train_seconds: float
    rows: dict[str, int] = Field(default_factory=dict)
    params: dict = Field(default_factory=dict)
    calibration: dict = Field(default_factory=dict, description="method chosen on validation "
                              "and each method's cross-validated log loss and ECE")
    created_at: str = Field(default_factory=utc_now)


def task_dir(settings: Settings, shop: str, task: str) -> Path:
    return settings.artifacts_dir / "behavior" / shop / task


def new_version_dir(settings: Settings, shop: str, task: str, model: str) -> tuple[str, Path]:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    version = f"{model}-{stamp}"
    folder = task_dir(settings, shop, task) / version
    folder.mkdir(parents=True)
    return version, folder


def list_versions(settings: Settings, shop: str, task: str) -> list[tuple[Path, ModelMeta]]:
    """Every complete version of a task (meta.json present), oldest first."""
    root = task_dir(settings, shop, task)
    found = []
    for meta_file in root.glob("*/meta.json") if root.is_dir() else []:
        found.append((meta_file.parent, ModelMeta.model_validate(json.loads(meta_file.read_text()))))
    return sorted(found, key=lambda item: item[1].created_at)


def latest_servable(settings: Settings, shop: str, task: str) -> tuple[Path, ModelMeta] | None:
    servable = [v for v in list_versions(settings, shop, task) if v[1].model in SERVABLE]
    return servable[-1] if servable else None


def serving_version(settings: Settings, shop: str, task: str) -> tuple[Path, ModelMeta] | None:
    """The version that answers a task: the registry's serving one when the task is registered
    (a RegistryError when its folder is gone, or when the gate refused every candidate so far);
    otherwise, for artifacts trained before the registry, the validation winner among the
    servable versions of the newest data window."""
    from finetune import registry
    from finetune.behavior.selection import pick_on_validation

    folder = registry.serving_folder(settings, registry.behavior_slot(shop, task))
    if folder is not None:
        return folder, ModelMeta.model_validate(json.loads((folder / "meta.json").read_text()))
    servable = [v for v in list_versions(settings, shop, task) if v[1].model in SERVABLE]
    if not servable:
        return None
    newest = [v for v in servable if v[1].cutoffs == servable[-1][1].cutoffs]
    latest = {meta.model: (folder, meta) for folder, meta in newest}  # newest of each kind
    winner = pick_on_validation({m: meta.metrics["val"]["roc_auc"]
                                 for m, (_, meta) in latest.items()})
    return latest[winner]


def trained_tasks(settings: Settings, shop: str) -> list[str]:
    root = settings.artifacts_dir / "behavior" / shop
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
