"""The ``shopify`` source: Shopify's orders export, read with the preset in ``presets``."""

from __future__ import annotations

from knowledge.importers.own_shop import preset_runner

run = preset_runner("shopify")
