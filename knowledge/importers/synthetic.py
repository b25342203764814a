"""`shopmind data import synthetic`: the embedded default shop, generated from settings.

Deterministic by `settings.seed`; sizes from synthetic_users / synthetic_products /
synthetic_days / synthetic_end. What it models is described in docs/synthetic_shop.md and
in the modules of knowledge.synthetic. It needs no raw files (`source_dir` is ignored).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from knowledge.docs import load_default_policy
from knowledge.importers.base import ImportReport, replace_table
from knowledge.settings import Settings
from knowledge.synthetic.shop import generate


def run(con: duckdb.DuckDBPyConnection, source_dir: Path, settings: Settings) -> ImportReport:
    shop = generate(settings)
    rows = {name: replace_table(con, name, frame) for name, frame in shop.tables.items()}
    rows["documents"] = load_default_policy(con)  # the default shop policy (knowledge/policies)
    return ImportReport(source="synthetic", rows=rows, notes=shop.notes)
