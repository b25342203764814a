"""Bad input gives one clear error naming the file and the problem, and never a half import."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.cli import import_source
from knowledge.importers import DataFileError, UnknownSourceError, get_importer
from tests.retail_files import RETAIL_HEADER, RETAIL_LINES, write_gz

REPO = Path(__file__).resolve().parents[1]
TAU_FILES = ["users.json", "orders.json.gz", "products.json", "policy_wiki.md", "rules.json"]


def retail_dir(root: Path, lines: list[str] = RETAIL_LINES, header: str = RETAIL_HEADER) -> Path:
    write_gz(root / "online_retail.csv.gz", "\n".join([header, *lines]) + "\n")
    return root


def import_retail(settings, folder: Path):
    return import_source(settings, "online_retail", path=folder, into=settings.warehouse)


@pytest.mark.parametrize("make, problem", [
    (lambda d: d, "online_retail.csv.gz: file not found"),
    (lambda d: retail_dir(d, header=RETAIL_HEADER.replace("Quantity", "Qty")),
     "online_retail.csv.gz: missing column(s) Quantity; found InvoiceNo, StockCode"),
    (lambda d: (d / "online_retail.csv.gz").write_bytes(b"this is not gzip data") and d,
     "online_retail.csv.gz: cannot be read, the file is corrupt or truncated"),
    (lambda d: write_gz(d / "online_retail.csv.gz", "") and d,
     "online_retail.csv.gz: the file is empty"),
    (lambda d: retail_dir(d, lines=[]), "online_retail.csv.gz: the file has a header but no rows"),
    (lambda d: retail_dir(d, lines=[RETAIL_LINES[0].replace(",6,", ",six,")]),
     "1 × order_lines.quantity not a whole number (first on line 2)"),
    (lambda d: retail_dir(d, lines=[RETAIL_LINES[0].replace("2010-12-01", "01/12/2010")]),
     "1 × order_lines.ordered_at not a timestamp (first on line 2)"),
], ids=["missing", "wrong-columns", "corrupt-gzip", "empty", "header-only", "bad-number",
        "bad-date"])
def test_bad_online_retail_file_names_file_and_problem(tmp_path, settings, make, problem):
    folder = tmp_path / "raw"
    folder.mkdir()
    make(folder)
    with pytest.raises(DataFileError) as err:
        import_retail(settings, folder)
    assert problem in str(err.value)
    assert str(folder) in str(err.value)
    assert not settings.warehouse.exists()


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(UnknownSourceError, match="unknown source 'amazon'; choose one of: "
                                                 "synthetic, online_retail, taobao"):
        get_importer("amazon")


def test_unknown_taobao_behaviour_is_named(tmp_path, settings):
    write_gz(tmp_path / "userbehavior_head.csv.gz",
             "user_id,item_id,category_id,behavior_type,timestamp\n1,2,3,click,1511544070\n")
    with pytest.raises(DataFileError, match="column behavior_type has 1 value.s. that are empty "
                                            "or not one of pv, cart, fav, buy; the first is "
                                            "'click' on line 2"):
        import_source(settings, "taobao", path=tmp_path, into=settings.warehouse)


def test_unknown_hillstrom_arm_is_named(tmp_path, settings):
    write_gz(tmp_path / "hillstrom.csv.gz",
             "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,"
             "visit,conversion,spend\n1,1) $0 - $100,10,1,0,Rural,0,Web,SMS,0,0,0\n")
    with pytest.raises(DataFileError, match="column segment has 1 value.s. that are empty or "
                                            "not one of No E-Mail, Mens E-Mail, Womens E-Mail; "
                                            "the first is 'SMS' on line 2"):
        import_source(settings, "hillstrom", path=tmp_path, into=settings.warehouse)


@pytest.fixture
def tau_copy(tmp_path, shared_data) -> Path:
    folder = tmp_path / "tau"
    folder.mkdir()
    for name in TAU_FILES:
        shutil.copy(shared_data / "tau_bench_retail" / name, folder / name)
    return folder


@pytest.mark.parametrize("name, content, problem", [
    ("users.json", "", "users.json: the file is empty"),
    ("users.json", "{\"noah\": ", "users.json: not valid JSON"),
    ("products.json", "[1, 2]",
     "products.json: unexpected content at top level: Input should be a valid dictionary"),
    ("rules.json", "{\"a\": 1}", "rules.json: unexpected content"),
    ("policy_wiki.md", None, "policy_wiki.md: file not found"),
])
def test_bad_tau_file_names_file_and_problem(tau_copy, settings, name, content, problem):
    if content is None:
        (tau_copy / name).unlink()
    else:
        (tau_copy / name).write_text(content)
    with pytest.raises(DataFileError) as err:
        import_source(settings, "tau_bench_retail", path=tau_copy, into=settings.warehouse)
    assert problem in str(err.value)


def test_truncated_tau_orders_gzip_is_named(tau_copy, settings):
    data = (tau_copy / "orders.json.gz").read_bytes()
    (tau_copy / "orders.json.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="orders.json.gz: cannot be read, the file is corrupt"):
        import_source(settings, "tau_bench_retail", path=tau_copy, into=settings.warehouse)


def test_tau_record_with_a_wrong_field_is_located(tau_copy, settings):
    orders = json.loads(gzip.decompress((tau_copy / "orders.json.gz").read_bytes()))
    orders["#W2611340"]["items"][1]["price"] = "cheap"
    (tau_copy / "orders.json.gz").write_bytes(gzip.compress(json.dumps(orders).encode()))
    with pytest.raises(DataFileError, match=r"orders.json.gz: unexpected content at "
                                            r"#W2611340.items.1.price: Input should be a valid number"):
        import_source(settings, "tau_bench_retail", path=tau_copy, into=settings.warehouse)


def test_import_truncated_mid_file_leaves_previous_warehouse_byte_identical(tmp_path, settings):
    good = retail_dir(tmp_path / "good")
    import_retail(settings, good)
    before = settings.warehouse.read_bytes()
    # A file large enough that cutting its gzip in half cuts the data, not the header.
    many = [line.replace("536365", str(600000 + i)) for i in range(3000) for line in RETAIL_LINES[:1]]
    data = gzip.compress(("\n".join([RETAIL_HEADER, *many]) + "\n").encode())
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "online_retail.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="corrupt or truncated"):
        import_retail(settings, bad)
    assert settings.warehouse.read_bytes() == before
    assert sorted(p.name for p in settings.warehouse.parent.iterdir()) == [  # no temp files
        settings.warehouse.name, f"{settings.warehouse.name}.journal"]  # + the event journal


def test_real_gzip_truncated_mid_data_keeps_previous_warehouse(tmp_path, settings, shared_data):
    """The same with a real file: Hillstrom cut in the middle of its compressed data."""
    source = shared_data / "hillstrom_email"
    import_source(settings, "hillstrom", path=source, into=settings.warehouse)
    before = settings.warehouse.read_bytes()
    data = (source / "hillstrom.csv.gz").read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "hillstrom.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match="hillstrom.csv.gz: cannot be read, the file is "
                                            "corrupt or truncated"):
        import_source(settings, "hillstrom", path=bad, into=settings.warehouse)
    assert settings.warehouse.read_bytes() == before


def shopmind(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin",
                               "COLUMNS": "200"})


@pytest.mark.parametrize("args, problem", [
    (["data", "import", "amazon"], "error: unknown source 'amazon'; choose one of:"),
    (["data", "import", "online_retail", "--path", "raw"],
     "error: raw/online_retail.csv.gz: cannot be read, the file is corrupt or truncated"),
    (["data", "import", "hillstrom", "--path", "raw"],
     "error: raw/hillstrom.csv.gz: file not found"),
])
def test_cli_import_exits_non_zero_with_one_line_error(tmp_path, args, problem):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "online_retail.csv.gz").write_bytes(b"\x1f\x8b\x08broken")
    done = shopmind("--set", "warehouse_dir=wh", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert problem in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "wh").exists() or not any((tmp_path / "wh").iterdir())


def test_cli_import_and_stats_on_a_small_file(tmp_path):
    retail_dir(tmp_path / "raw")
    done = shopmind("--set", "warehouse_dir=wh", "data", "import", "online_retail",
                    "--path", "raw", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "skipped/changed 1 raw rows: no customer id: guest line (dropped)" in done.stdout
    stats = shopmind("--set", "warehouse_dir=wh", "data", "stats", "--shop", "online_retail",
                     cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert "raw file counts: lines 7, invoices 6" in done.stdout
    assert "2010-12-01 08:26:00" in stats.stdout and "2010-12-01 09:01:00" in stats.stdout
    assert "imported: online_retail (" in stats.stdout
