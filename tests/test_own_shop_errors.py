"""A mapping file or an export that cannot be used: one sentence naming the file and the
problem, through the Python API and the CLI (exit code 2), and no warehouse written."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.cli import import_source
from knowledge.importers import DataFileError
from tests.own_shop_files import TX_HEADER, TX_ROWS, write_csv

REPO = Path(__file__).resolve().parents[1]
GOOD_TABLE = "tables:\n  order_lines:\n    file: tx.csv\n"


@pytest.mark.parametrize("mapping, problem", [
    ("currency: GBP\n" + GOOD_TABLE.replace("order_lines", "basket"),
     "shop.yaml: invalid mapping: tables.basket.[key]: Input should be 'customers'"),
    ("currency: GBP\n" + GOOD_TABLE + "    columns: {order_no: InvoiceNo}\n",
     ("shop.yaml: invalid mapping: top level: tables.order_lines: unknown shopmind column(s) "
     "order_no; known:")),
    ("currency: GBP\ntimezone: Europe/Londn\n" + GOOD_TABLE,
     "shop.yaml: invalid mapping: timezone: unknown time zone 'Europe/Londn'"),
    ("currency: pounds\n" + GOOD_TABLE,
     "shop.yaml: invalid mapping: currency: currency 'pounds' is not a three-letter ISO code"),
    (GOOD_TABLE, "shop.yaml: invalid mapping: currency: Field required"),
    ("currency: GBP\n", "shop.yaml: invalid mapping: top level: names no tables and no policies"),
    ("currency: GBP\n" + GOOD_TABLE + "    colour: red\n",
     "shop.yaml: invalid mapping: tables.order_lines.colour: Extra inputs are not permitted"),
    ("currency: [GBP\n", "shop.yaml: not valid YAML"),
    ("currency: GBP\n" + GOOD_TABLE + "    columns: {order_id: InvoiceNo}\n",
     "tx.csv: missing column(s) InvoiceNo; found order_id, customer_id"),
    ("currency: GBP\ntables:\n  events:\n    file: tx.csv\n",
     "tx.csv: missing column(s) event_type, ts for the events table"),
    ("currency: GBP\ntables:\n  customers:\n    file: nowhere.csv\n",
     "nowhere.csv: file not found"),
    ("currency: GBP\n" + GOOD_TABLE + "    timestamp_format: '%d/%Q'\n",
     "shop.yaml: invalid mapping: tables.order_lines.timestamp_format: '%d/%Q' is not a "
     + "strptime format"),
    ("currency: GBP\ntables:\n  outcomes:\n    file: tx.csv\n",
     "shop.yaml: invalid mapping: top level: tables.outcomes needs tables.assignments"),
], ids=["unknown-table", "unknown-column", "wrong-time-zone", "bad-currency", "no-currency",
        "nothing", "unknown-key", "bad-yaml", "missing-mapped-column", "missing-required-column",
        "missing-file", "bad-timestamp-format", "outcomes-alone"])
def test_bad_mapping_is_one_sentence_naming_the_file(tmp_path, settings, mapping, problem):
    write_csv(tmp_path / "tx.csv", TX_HEADER, TX_ROWS)
    (tmp_path / "shop.yaml").write_text(mapping)
    with pytest.raises(DataFileError) as err:
        import_source(settings, "shop", path=tmp_path / "shop.yaml", into=settings.warehouse)
    assert problem in str(err.value)
    assert not settings.warehouse.exists()


BAD_DATES = [r[:2] + ["05/01/2024 10:00"] + r[3:] for r in TX_ROWS]


@pytest.mark.parametrize("source, name, content, problem", [
    ("transactions", "tx.csv", b"", "tx.csv: the file is empty"),
    ("transactions", "tx.csv.gz", gzip.compress(b""), "tx.csv.gz: the file is empty"),
    ("transactions", "tx.csv", b"order_id,customer_id\n",
     "tx.csv: the file has a header but no rows"),
    ("transactions", "tx.csv", b"InvoiceNo,Qty\n1,2\n",
     "tx.csv: missing column(s) customer_id (one of: customerid"),
    ("shop", "shop.yaml", b"currency: GBP\ntimezon: UTC\n" + GOOD_TABLE.encode(),
     "shop.yaml: invalid mapping: timezon: Extra inputs are not permitted"),
    ("transactions", "tx.csv", None,
     ("tx.csv: 4 of 4 rows (100.0%) were rejected, more than the 10% allowed "
      "(import_max_reject_fraction); 4 × order_lines.ordered_at not a timestamp (first on line 2)")),
], ids=["empty-file", "empty-gzip", "header-only", "missing-column", "unknown-mapping-key",
        "bad-dates"])
def test_bad_input_is_named_and_the_warehouse_keeps_its_data(tmp_path, settings, source, name,
                                                             content, problem):
    import_source(settings, "transactions", path=write_csv(tmp_path / "good.csv", TX_HEADER,
                                                           TX_ROWS), into=settings.warehouse)
    before = settings.warehouse.read_bytes()
    write_csv(tmp_path / "tx.csv", TX_HEADER, BAD_DATES)
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(DataFileError, match=re.escape(problem)):
        import_source(settings, source, path=tmp_path / name, into=settings.warehouse)
    assert settings.warehouse.read_bytes() == before


def test_one_bad_date_is_a_reject_naming_file_line_and_column(tmp_path, settings):
    rows = TX_ROWS + [["o8", "c7", "05/01/2024 10:00", "mug", "Red mug", "1", "3.50", "", "UK"]]
    export = write_csv(tmp_path / "tx.csv", TX_HEADER, rows)
    settings = settings.model_copy(update={"import_max_reject_fraction": 0.25})
    _, report = import_source(settings, "transactions", path=export, into=settings.warehouse)
    assert report.rejects == [{"file": str(export), "line": 6, "table": "order_lines",
                               "column": "ordered_at", "reason": "not a timestamp",
                               "value": "05/01/2024 10:00"}]
    assert report.counts["order_items"]["inserted"] == 4


def test_time_zone_and_currency_options_belong_to_the_presets(tmp_path):
    from typer.testing import CliRunner

    from assistant.cli import app

    done = CliRunner().invoke(app, ["--set", f"warehouse_dir={tmp_path}", "data", "import",
                                    "shop", "--path", str(tmp_path), "--timezone", "UTC"])
    assert done.exit_code == 2
    assert "shop reads them from shop.yaml" in " ".join(done.output.replace("│", " ").split())


def test_a_preset_needs_the_file_not_a_folder(tmp_path, settings):
    with pytest.raises(DataFileError, match="is a folder; pass the shopify export file"):
        import_source(settings, "shopify", path=tmp_path, into=settings.warehouse)


def test_shopify_export_without_its_columns_is_named(tmp_path, settings):
    write_csv(tmp_path / "orders.csv", TX_HEADER, TX_ROWS)
    with pytest.raises(DataFileError, match="orders.csv: missing column.s. Name, Email, Created "
                                            "at, Lineitem quantity, Lineitem name, Lineitem price "
                                            "of the Shopify orders export"):
        import_source(settings, "shopify", path=tmp_path / "orders.csv", into=settings.warehouse)


def shopmind(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                               "COLUMNS": "200", "HF_HUB_OFFLINE": "1"})


def test_cli_prints_counts_and_rejects_then_a_wrong_time_zone_exits_2(tmp_path):
    rows = TX_ROWS + [["o9", "c1", "2024-01-05 10:00:00", "mug", "Red mug", "x", "3.5", "", "UK"]]
    write_csv(tmp_path / "tx.csv", TX_HEADER, rows)
    done = shopmind("--set", "warehouse_dir=wh", "--set", "import_max_reject_fraction=0.5", "data",
                    "import", "transactions", "--path", "tx.csv", "--currency", "GBP", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "│ order_items │    5 │        4 │       0 │         0 │        1 │" in done.stdout
    assert "rejected tx.csv line 6: order_lines.quantity not a whole number ('x')" in done.stdout
    again = shopmind("--set", "warehouse_dir=wh", "data", "import", "transactions", "--path",
                     "tx.csv", "--timezone", "Mars/Olympus", cwd=tmp_path)
    assert again.returncode == 2
    assert "error: tx.csv: unknown time zone 'Mars/Olympus'" in again.stderr
    assert "Traceback" not in again.stderr


def test_the_documented_example_mapping_is_valid_and_names_every_column():
    from knowledge.importers.shop_mapping import ShopMapping, load_mapping
    from knowledge.importers.shop_tables import TABLES

    example = REPO / "docs" / "shop.example.yaml"
    mapping = load_mapping(example)
    assert set(mapping.tables) == {"order_lines", "customers", "events", "assignments", "outcomes"}
    text = example.read_text()
    for key in ShopMapping.model_fields:
        assert f"{key}:" in text, key
    for table, columns in TABLES.items():
        assert f"{table}:" in text, table
        for column in columns:
            assert column.name in text, f"{table}.{column.name}"
