"""Importers: one module per source, registered here by name.

An importer is ``run(con, source_dir, settings) -> ImportReport``: it reads raw files from
``source_dir`` and replaces the tables it owns in the open warehouse connection. The CLI
wraps the call in ``warehouse.atomic_update`` so a failure never leaves a half-written
warehouse behind. The own-shop sources (``shop``, ``shopify``, ``transactions``; see
``own_shop``) merge by key instead of replacing, and take optional keyword options
(``progress``; the presets also ``timezone`` and ``currency``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import duckdb

from knowledge.importers.base import DataFileError, ImportReport
from knowledge.settings import Settings

Importer = Callable[[duckdb.DuckDBPyConnection, Path, Settings], ImportReport]

# source name -> (module, folder under data_dir). The synthetic shop needs no folder.
SOURCES: dict[str, tuple[str, str | None]] = {
    "synthetic": ("knowledge.importers.synthetic", None),
    "online_retail": ("knowledge.importers.online_retail", "online_retail_uci"),
    "taobao": ("knowledge.importers.taobao", "taobao_userbehavior_head"),
    "hillstrom": ("knowledge.importers.hillstrom", "hillstrom_email"),
    "tau_bench_retail": ("knowledge.importers.tau_bench_retail", "tau_bench_retail"),
    # a shop's own data, merged incrementally (--path: shop.yaml, or the export file)
    "shop": ("knowledge.importers.own_shop", None),
    "shopify": ("knowledge.importers.shopify", None),
    "transactions": ("knowledge.importers.transactions", None),
}
OWN_SHOP_SOURCES = ("shop", "shopify", "transactions")


class UnknownSourceError(ValueError):
    pass


def get_importer(source: str) -> Importer:
    if source not in SOURCES:
        raise UnknownSourceError(
            f"unknown source {source!r}; choose one of: {', '.join(SOURCES)}"
        )
    return importlib.import_module(SOURCES[source][0]).run


def default_source_dir(source: str, settings: Settings) -> Path:
    folder = SOURCES[source][1]
    return settings.data_dir / folder if folder else Path(".")


__all__ = ["OWN_SHOP_SOURCES", "SOURCES", "DataFileError", "ImportReport", "UnknownSourceError", "get_importer"]
