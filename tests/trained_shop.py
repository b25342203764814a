"""A copy of the small synthetic shop with its purchase_30d model trained, gated and promoted
(the tests of serving-time behaviour share it)."""

from __future__ import annotations

import shutil
from pathlib import Path

from finetune.behavior.train import DEFAULT_TASKS, train_default
from knowledge.settings import Settings


def trained_purchase_shop(small_shop: Settings, root: Path) -> Settings:
    shop = small_shop.model_copy(update={"warehouse_path": root / "shop.duckdb",
                                         "artifacts_dir": root / "artifacts"})
    shutil.copy(small_shop.warehouse, shop.warehouse)
    train_default(shop, [DEFAULT_TASKS[0]])  # purchase_30d
    return shop


def private_copy(trained: Settings, folder: Path) -> Settings:
    """``trained`` on a copy of its warehouse in ``folder``, for tests that append events."""
    path = folder / "shop.duckdb"
    shutil.copy(trained.warehouse, path)
    return trained.model_copy(update={"warehouse_path": path})
