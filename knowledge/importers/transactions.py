"""The ``transactions`` source: one row per order line, read with the preset in ``presets``."""

from __future__ import annotations

from knowledge.importers.own_shop import preset_runner

run = preset_runner("transactions")
