"""A shop's own data: the ``shop`` source (a ``shop.yaml`` mapping file) and the engine that
the ``shopify`` and ``transactions`` presets share.

One import: read each file (``raw_files``), type and check its rows into shopmind's tables
(``typed_rows``; failures go to rejects), fail the whole import when a file's rejects exceed
the threshold, then merge into the warehouse by key (``shop_merge``, ``experiments``,
``policy_pages``) and store the rejects in ``import_rejects``. It runs inside
``warehouse.atomic_update``: any failure leaves the warehouse file as it was, and an import
that changes nothing raises ``NothingChanged`` so the file is not rewritten at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from knowledge.importers import experiments, policy_pages, shop_merge
from knowledge.importers.base import DataFileError, ImportReport
from knowledge.importers.raw_files import Format, drop, load
from knowledge.importers.shop_mapping import (
    Extract,
    PolicyPages,
    check_currency,
    check_timestamp_format,
    check_timezone,
    extract_of,
    load_mapping,
)
from knowledge.importers.typed_rows import REJECTS, add_rejects, create_rejects, stage
from knowledge.importers.upsert import Counts
from knowledge.settings import Settings

Progress = Callable[[str], None]
# what a raw shop table fills in the warehouse
TARGET = {"customers": "users", "products": "products", "orders": "orders",
          "order_lines": "order_items", "payments": "payments", "events": "events",
          "campaigns": "campaigns", "assignments": "campaign_assignments",
          "outcomes": "campaign_assignments"}
NEEDED_BY = {
    "order_lines": "without order lines, purchase history, behaviour predictions, "
                   "recommendations from purchases and segments by spend have nothing to learn from",
    "events": "without behaviour events, click predictions and browsing-based "
              "recommendations use purchases only",
    "assignments": "without experiments, suggest_intervention has no uplift model for this shop",
}
# optional columns whose absence silently weakens what the tools can do: said in the report
USEFUL = {"order_lines": {"ordered_at": "orders have no time (no purchase events, no recency)",
                          "customer_id": "orders belong to no customer (guest orders)"}}
BIG_FILE = 20 << 20  # bytes; DuckDB draws its progress bar for files larger than this


class NothingChanged(Exception):
    """The import would not change the warehouse; the caller keeps the file as it is."""

    def __init__(self, report: ImportReport):
        super().__init__("nothing changed")
        self.report = report


@dataclass
class FileJob:
    """One raw file and how to turn its header into the tables it fills."""

    path: Path
    build: Callable[[list[str]], list[Extract]]
    format: Format | None = None
    delimiter: str = ","
    encoding: str = "utf-8"


@dataclass
class ShopImport:
    source: str
    jobs: list[FileJob]
    timezone: str = "UTC"
    currency: str | None = None  # None: not stated, rows are not checked against it
    max_reject_fraction: float = 0.1
    policies: PolicyPages | None = None
    covariates: list[str] = field(default_factory=list)
    category_keywords: Mapping[str, Sequence[str]] = field(default_factory=dict)  # see ShopMapping


def _check_reject_share(con: duckdb.DuckDBPyConnection, path: Path, lines: int,
                        limit: float) -> None:
    """Fail the import when more than ``limit`` of a file's rows were rejected."""
    bad = con.execute(f"SELECT count(DISTINCT line) FROM {REJECTS} WHERE file = ?",
                      [str(path)]).fetchone()[0]
    if not lines or bad / lines <= limit:
        return
    top = con.execute(f"SELECT tbl, col, reason, count(*) AS n, min(line) FROM {REJECTS} "
                      f"WHERE file = ? GROUP BY ALL ORDER BY n DESC LIMIT 3", [str(path)]).fetchall()
    reasons = "; ".join(f"{n:,} × {table}.{col or 'row'} {reason} (first on line {line})"
                        for table, col, reason, n, line in top)
    raise DataFileError(path, f"{bad:,} of {lines:,} rows ({bad / lines:.1%}) were rejected, "
                              f"more than the {limit:.0%} allowed (import_max_reject_fraction); "
                              f"{reasons}")


def _read(con: duckdb.DuckDBPyConnection, job: ShopImport, counts: dict[str, Counts],
          dropped: dict[str, int], progress: Progress, notes: list[str]) -> list[str]:
    """Stage every file's tables, counting skipped rows in ``dropped``; returns the files read."""
    files = []
    for i, file_job in enumerate(job.jobs):
        progress(f"reading {file_job.path.name}")
        if file_job.path.is_file() and file_job.path.stat().st_size > BIG_FILE:
            con.execute("SET enable_progress_bar = true")
        raw = load(con, file_job.path, f"raw_{i}", file_job.format, file_job.delimiter,
                   file_job.encoding)
        extracts = file_job.build(raw.columns)
        add_rejects(con, extracts[0].table, raw.rejects)
        first = TARGET[extracts[0].table]
        counts[first] = counts.get(first, Counts()).add(
            Counts(read=len(raw.rejects), rejected=len(raw.rejects)))
        for extract in extracts:
            progress(f"checking {file_job.path.name}: {extract.table}")
            if shop_merge.has(con, f"stage_{extract.table}"):
                raise DataFileError(file_job.path, f"a second file for the {extract.table} table; "
                                                   "give each table one file per import")
            for column, why in USEFUL.get(extract.table, {}).items():
                if column not in extract.exprs:
                    notes.append(f"{file_job.path.name}: no {column} column for {extract.table}, "
                                 f"so {why} (map one in shop.yaml)")
            staged = stage(con, raw.name, extract, job.timezone, job.currency)
            target = TARGET[extract.table]
            skipped = sum(staged.skipped.values())
            counts[target] = counts.get(target, Counts()).add(
                Counts(read=staged.kept + staged.rejected + skipped, rejected=staged.rejected))
            for reason, n in staged.skipped.items():
                dropped[reason] = dropped.get(reason, 0) + n
        _check_reject_share(con, file_job.path, raw.rows + len(raw.rejects),
                            job.max_reject_fraction)
        drop(con, raw)
        con.execute("SET enable_progress_bar = false")
        files.append(str(file_job.path))
    return files


def _merge(con: duckdb.DuckDBPyConnection, job: ShopImport, counts: dict[str, Counts],
           progress: Progress) -> None:
    def add(table: str, got: Counts) -> None:
        before = counts.get(table, Counts())
        counts[table] = before.add(got.model_copy(update={"read": 0}))

    has = lambda t: shop_merge.has(con, f"stage_{t}")
    if has("products"):
        progress("merging products")
        add("products", shop_merge.merge_products(con, job.category_keywords))
    if has("customers"):
        progress("merging customers")
        add("users", shop_merge.merge_customers(con))
    progress("merging orders and their lines")
    for table, got in shop_merge.merge_orders(con).items():
        add(table, got)
    if has("payments"):
        progress("merging payments")
        add("payments", shop_merge.merge_payments(con))
    if has("events"):
        progress("merging events")
        add("events", shop_merge.merge_events(con))
    progress("adding the products that only lines or events name")
    add("products", shop_merge.add_missing_products(con, job.category_keywords))
    if has("order_lines"):  # after the products, so that the events carry their category
        progress("deriving purchase events")
        add("events", shop_merge.purchase_events(con))
    if has("assignments"):
        progress("merging experiments")
        file = con.execute("SELECT any_value(_file) FROM stage_assignments").fetchone()[0]
        for table, got in experiments.merge_experiments(con, job.covariates, file).items():
            add(table, got)
    progress("adding the customers that only orders, events or experiments name")
    add("users", shop_merge.add_missing_users(con))


def _store_rejects(con: duckdb.DuckDBPyConnection, files: list[str]) -> bool:
    """Replace the stored rejects of these files; True when they differ from before."""
    def digest() -> str:
        rows = con.execute("SELECT * FROM import_rejects WHERE file IN (SELECT unnest(?)) "
                           "ORDER BY ALL", [files]).fetchall()
        return hashlib.sha256(repr(rows).encode()).hexdigest()

    before = digest()
    con.execute("DELETE FROM import_rejects WHERE file IN (SELECT unnest(?))", [files])
    con.execute(f"INSERT INTO import_rejects SELECT file, line, tbl, col, reason, value "
                f"FROM {REJECTS} ORDER BY file, line")
    return digest() != before


def _report(con: duckdb.DuckDBPyConnection, job: ShopImport,
            counts: dict[str, Counts]) -> ImportReport:
    report = ImportReport(source=job.source)
    for table, c in counts.items():
        report.counts[table] = c.model_dump()
        report.rows[table] = c.inserted + c.updated
    report.rejects = [dict(zip(["file", "line", "table", "column", "reason", "value"], r))
                      for r in con.execute(f"SELECT * FROM {REJECTS} ORDER BY file, line "
                                           f"LIMIT 10").fetchall()]
    money = job.currency or "the file's currency (not stated: pass --currency to check it)"
    report.notes.append(f"timestamps in {job.timezone} (the shop's local time), money in {money}")
    staged = {t for t in TARGET if shop_merge.has(con, f"stage_{t}")}
    for table, sentence in NEEDED_BY.items():
        if table not in staged:
            report.notes.append(sentence)
    return report


def import_shop(con: duckdb.DuckDBPyConnection, job: ShopImport,
                progress: Progress | None = None) -> ImportReport:
    """Run one own-shop import on an open warehouse connection (see the module doc)."""
    progress = progress or (lambda _: None)
    con.execute("SET TimeZone = ?", [job.timezone])
    create_rejects(con)
    counts: dict[str, Counts] = {}
    dropped: dict[str, int] = {}
    notes: list[str] = []
    files = _read(con, job, counts, dropped, progress, notes)
    _merge(con, job, counts, progress)
    if job.policies is not None:
        progress(f"reading policy pages in {job.policies.folder}")
        docs, rejects = policy_pages.read_folder(job.policies.folder)
        add_rejects(con, "documents", rejects)
        got = policy_pages.merge_pages(con, docs, job.policies.mode)
        counts["documents"] = got.model_copy(update={"rejected": len(rejects),
                                                     "read": got.read + len(rejects)})
        files += [r["file"] for r in rejects]
    rejects_changed = _store_rejects(con, files)
    report = _report(con, job, counts)
    report.dropped = dropped
    report.notes[1:1] = notes
    for name in [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE "
                                           "temporary AND table_name LIKE 'stage_%'").fetchall()]:
        con.execute(f"DROP TABLE {name}")
    con.execute(f"DROP TABLE {REJECTS}")
    if not rejects_changed and not any(c.inserted or c.updated for c in counts.values()):
        raise NothingChanged(report)
    return report


def from_mapping(path: Path, settings: Settings) -> ShopImport:
    """The import a ``shop.yaml`` describes (paths relative to its folder)."""
    path = Path(path)
    mapping_file = path / "shop.yaml" if path.is_dir() else path
    mapping = load_mapping(mapping_file)
    root = mapping_file.parent
    jobs = [FileJob(root / spec.file, (lambda header, t=table, s=spec: [extract_of(t, s, root, header)]),
                    spec.format, spec.delimiter, spec.encoding)
            for table, spec in mapping.tables.items()]
    policies = mapping.policies
    if policies is not None:
        policies = policies.model_copy(update={"folder": root / policies.folder})
    assignments = mapping.tables.get("assignments")
    return ShopImport(source="shop", jobs=jobs, timezone=mapping.timezone,
                      currency=mapping.currency,
                      max_reject_fraction=mapping.max_reject_fraction
                      if mapping.max_reject_fraction is not None
                      else settings.import_max_reject_fraction,
                      policies=policies, covariates=assignments.covariates if assignments else [],
                      category_keywords=mapping.category_keywords)


def run(con: duckdb.DuckDBPyConnection, source_dir: Path, settings: Settings,
        progress: Progress | None = None) -> ImportReport:
    """The ``shop`` source: ``source_dir`` is a shop.yaml, or a folder holding one."""
    return import_shop(con, from_mapping(source_dir, settings), progress)


def preset_import(preset: str, path: Path, settings: Settings, timezone: str = "UTC",
                  currency: str | None = None, timestamp_format: str | None = None) -> ShopImport:
    """One export file read with a named preset (no mapping file)."""
    from knowledge.importers.presets import PRESETS, extracts_of

    path = Path(path)
    if preset not in PRESETS:
        raise DataFileError(path, f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    if path.is_dir():
        raise DataFileError(path, f"is a folder; pass the {preset} export file itself with --path")
    try:  # the same checks of the time zone and currency as a mapping file gets
        check_timezone(timezone)
        if currency is not None:
            check_currency(currency)
        if timestamp_format is not None:
            check_timestamp_format(timestamp_format)
    except ValueError as err:
        raise DataFileError(path, str(err)) from err

    def build(header: list[str]) -> list[Extract]:
        extracts = extracts_of(preset, path, header)
        for extract in extracts:
            extract.timestamp_format = timestamp_format or extract.timestamp_format
        return extracts

    return ShopImport(source=preset, jobs=[FileJob(path, build)], timezone=timezone,
                      currency=currency, max_reject_fraction=settings.import_max_reject_fraction)


def preset_runner(preset: str):
    """``run(con, path, settings, progress=None, timezone="UTC", currency=None,
    timestamp_format=None)`` for a preset."""
    def run_preset(con: duckdb.DuckDBPyConnection, source_dir: Path, settings: Settings,
                   progress: Progress | None = None, timezone: str = "UTC",
                   currency: str | None = None,
                   timestamp_format: str | None = None) -> ImportReport:
        return import_shop(con, preset_import(preset, source_dir, settings, timezone, currency,
                                              timestamp_format), progress)

    run_preset.__doc__ = f"The {preset} preset: ``source_dir`` is the export file."
    return run_preset
