"""Helpers for tests on a shared shop (the ``small_shop``, ``tau_shop`` and ``cs_shop`` fixtures
of conftest.py), which are read-only."""

from __future__ import annotations

import shutil
from pathlib import Path

from knowledge.settings import Settings


def private_copy(shop: Settings, folder: Path, **update) -> Settings:
    """``shop`` with its own copy of the warehouse in ``folder``, for a test that writes."""
    copy = shop.model_copy(update={"warehouse_path": folder / "shop.duckdb", **update})
    shutil.copyfile(shop.warehouse, copy.warehouse)
    return copy
