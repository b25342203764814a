"""``shop.yaml``: which files a shop brings and how their columns map onto shopmind's tables.

Every key is documented in ``docs/shop.example.yaml``. The mapping is validated here, once,
at the boundary; the importer then works from ``Extract`` objects (a file and one SQL
expression per shopmind column), which presets build directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from knowledge.importers.base import DataFileError
from knowledge.importers.line_rules import LineRules
from knowledge.importers.raw_files import Format
from knowledge.importers.shop_tables import TABLES
from knowledge.importers.sql_text import Constant, literal, quote_ident

TableName = Literal["customers", "products", "orders", "order_lines", "payments", "events",
                    "campaigns", "assignments", "outcomes"]


def check_timezone(value: str) -> str:
    """An IANA time zone name; else ValueError saying what is expected."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as "
                         f"Europe/London or America/New_York)") from err
    return value


def check_currency(value: str) -> str:
    """A three-letter ISO 4217 code; else ValueError saying what is expected."""
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError(f"currency {value!r} is not a three-letter ISO code such as GBP")
    return value


def check_timestamp_format(value: str) -> str:
    """A strptime format that DuckDB (the reader) knows; else ValueError naming its problem."""
    con = duckdb.connect()
    try:
        con.execute("SELECT try_strptime('', ?)", [value])
    except duckdb.Error as err:
        raise ValueError(f"{value!r} is not a strptime format ({str(err).splitlines()[0]}); "
                         f"e.g. '%d/%m/%Y %H:%M'") from err
    finally:
        con.close()
    return value


TimeZone = Annotated[str, AfterValidator(check_timezone)]
Currency = Annotated[str, AfterValidator(check_currency)]


class TableFile(BaseModel):
    """One raw file and how its columns map onto one shopmind table."""

    model_config = ConfigDict(extra="forbid")

    file: Path = Field(description="The file, relative to shop.yaml's folder: .csv, .csv.gz, "
                                   ".parquet (gzip is recognised by the .gz suffix).")
    format: Format | None = Field(None, description="csv or parquet; default: from the suffix.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field separator.")
    encoding: Literal["utf-8", "utf-16", "latin-1"] = Field(
        "utf-8", description="CSV text encoding; lines with bytes not in it are rejected.")
    timestamp_format: Annotated[str, AfterValidator(check_timestamp_format)] | None = Field(
        None, description="strptime format of the timestamp columns (e.g. '%d/%m/%Y %H:%M'); "
        "default: ISO 8601, with or without a UTC offset.")
    columns: dict[str, str] = Field(
        default_factory=dict, description="shopmind column: column in the file. A shopmind "
        "column not listed is read from a file column of the same name, if there is one.")
    defaults: dict[str, Constant] = Field(
        default_factory=dict, description="shopmind column: value for every row (used where the "
        "file has no such column, or the value is empty).")
    covariates: list[str] = Field(
        default_factory=list, description="assignments only: file columns that are "
        "pre-treatment features of each user, for uplift models.")
    rules: LineRules | None = Field(
        None, description="order_lines only: lines to skip on purpose (guest lines, postage "
        "and fees, unpriced lines; each counted in the report) and product-id spelling.")


class PolicyPages(BaseModel):
    """A folder of the shop's own policy and FAQ pages."""

    model_config = ConfigDict(extra="forbid")

    folder: Path = Field(description="Folder of .md, .markdown, .txt, .text, .html, .htm "
                                     "pages (sub-folders too; .pdf with the pypdf package), "
                                     "relative to shop.yaml's folder.")
    mode: Literal["replace", "extend"] = Field(
        "replace", description="replace: the shop's pages stand instead of shopmind's default "
        "policy; extend: both are searched.")


class ShopMapping(BaseModel):
    """The whole ``shop.yaml``."""

    model_config = ConfigDict(extra="forbid")

    timezone: TimeZone = Field("UTC", description="The shop's time zone (IANA name, e.g. "
                               "Europe/London). Timestamps with an offset are converted to it; "
                               "timestamps without one are taken to be in it already.")
    currency: Currency = Field(description="ISO 4217 code of the shop's money columns (GBP, "
                               "USD). A row whose currency column says otherwise is rejected.")
    max_reject_fraction: float | None = Field(
        None, ge=0, le=1, description="A file with a larger share of rejected rows fails the "
        "import; default: the import_max_reject_fraction setting.")
    tables: dict[TableName, TableFile] = Field(
        default_factory=dict, description="The files the shop has; any may be left out.")
    policies: PolicyPages | None = Field(None, description="The shop's policy and FAQ pages.")
    category_keywords: dict[str, list[str]] = Field(
        default_factory=dict, description="For shops whose exports have no product category: "
        "category: words. A product without a category gets the first category (in this "
        "order) with a word in its title (whole word, plural -s/-es too, any case); else "
        "'other'.")

    @model_validator(mode="after")
    def _known_columns(self) -> ShopMapping:
        for table, spec in self.tables.items():
            known = {c.name for c in TABLES[table]}
            unknown = sorted((set(spec.columns) | set(spec.defaults)) - known)
            if unknown:
                raise ValueError(f"tables.{table}: unknown shopmind column(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(sorted(known))}")
            if spec.covariates and table != "assignments":
                raise ValueError(f"tables.{table}: covariates belong to assignments only")
            if spec.rules and table != "order_lines":
                raise ValueError(f"tables.{table}: rules belong to order_lines only")
        if "outcomes" in self.tables and "assignments" not in self.tables:
            raise ValueError("tables.outcomes needs tables.assignments to join the outcomes to")
        if not self.tables and self.policies is None:
            raise ValueError("names no tables and no policies: nothing to import")
        return self


@dataclass
class Extract:
    """One shopmind table read from one raw file: a SQL expression per shopmind column over
    the raw table (whose columns are VARCHAR for CSV). Built by presets, or from a mapping."""

    table: str
    file: Path
    exprs: dict[str, str]  # shopmind column -> SQL over the raw columns
    timestamp_format: str | None = None
    covariates: list[str] = field(default_factory=list)
    where: str | None = None  # SQL over the raw columns ({raw}: the raw table): rows to keep
    duplicates: Literal["reject", "last"] = "reject"  # a key seen again: reject it, or keep the last
    skips: list[tuple[str, str]] = field(default_factory=list)  # (reason, SQL over typed columns)


def extract_of(table: str, spec: TableFile, root: Path, header: list[str]) -> Extract:
    """A mapping file's table as an ``Extract``, once the raw file's header is known: a column
    named in ``columns`` must exist (the error names it and the file)."""
    path = root / spec.file
    missing = [raw for raw in spec.columns.values() if raw not in header]
    if missing:
        raise DataFileError(path, f"missing column(s) {', '.join(missing)}; found "
                                  f"{', '.join(header)}")
    missing = [c for c in spec.covariates if c not in header]
    if missing:
        raise DataFileError(path, f"missing covariate column(s) {', '.join(missing)}")
    exprs = {}
    for col in TABLES[table]:
        raw = spec.columns.get(col.name) or (col.name if col.name in header else None)
        default = spec.defaults.get(col.name)
        if raw is not None:
            expr = f"nullif(trim({quote_ident(raw)}::VARCHAR), '')"
            exprs[col.name] = expr if default is None else f"coalesce({expr}, {literal(default)})"
        elif default is not None:
            exprs[col.name] = literal(default)
    return with_rules(Extract(table, path, exprs, timestamp_format=spec.timestamp_format,
                              covariates=spec.covariates), spec.rules)


def with_rules(extract: Extract, rules: LineRules | None) -> Extract:
    """The order lines ``extract`` with ``rules`` applied (a no-op without rules)."""
    if rules is None:
        return extract
    if "product_id" in extract.exprs:
        extract.exprs["product_id"] = rules.product_id(extract.exprs["product_id"])
    try:
        extract.skips = rules.skips(set(extract.exprs))
    except ValueError as err:
        raise DataFileError(extract.file, str(err)) from err
    return extract


def load_mapping(path: Path) -> ShopMapping:
    """Read and validate ``shop.yaml``; every problem is one sentence naming the file."""
    path = Path(path)
    if path.is_dir():
        path = path / "shop.yaml"
    if not path.is_file():
        raise DataFileError(path, "mapping file not found (pass --path shop.yaml, see "
                                  "docs/shop.example.yaml)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DataFileError(path, f"not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise DataFileError(path, "expected a mapping of keys (currency, timezone, tables, ...)")
    try:
        return ShopMapping.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'top level'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()[:3])
        raise DataFileError(path, f"invalid mapping: {problems}") from err
