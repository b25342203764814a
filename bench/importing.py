"""Import time and peak memory of every source: `python bench/importing.py [--repeats 3]`.

Each run imports one source into a fresh warehouse in its own subprocess and reports its wall
time, its CPU time (user + system, all threads: less disturbed than wall time on a shared
machine, so the load average is recorded too) and peak resident memory (ru_maxrss). The
baseline, in the same kind of subprocess, only parses the raw files (pandas for CSV, json for
JSON): the CPU ratio says what checking, cleaning, mapping and writing DuckDB cost on top of
reading. Writes bench/results/import.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from knowledge.importers import OWN_SHOP_SOURCES, SOURCES, default_source_dir
from knowledge.settings import load_settings

RESULTS = REPO / "bench" / "results" / "import.json"

# Runs in a fresh interpreter: argv = source, data_dir, warehouse_dir, mode ("import" | "read").
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
source, data_dir, warehouse_dir, mode = sys.argv[1:5]
import pandas as pd
from knowledge.cli import import_source
from knowledge.importers import default_source_dir
from knowledge.importers.base import read_json
from knowledge.settings import Settings
settings = Settings(data_dir=Path(data_dir), warehouse_dir=Path(warehouse_dir), shop=source)
folder = default_source_dir(source, settings)
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started, cpu_started = time.perf_counter(), cpu()
rows = {}
if mode == "import":
    path, report = import_source(settings, source)
    rows = report.rows
elif source == "synthetic":
    pass  # generated, nothing to read
else:
    for raw in sorted(folder.iterdir()):
        if raw.name.endswith((".csv", ".csv.gz")):
            pd.read_csv(raw)
        elif raw.name.endswith((".json", ".json.gz")):
            read_json(raw)
seconds, cpu_seconds = time.perf_counter() - started, cpu() - cpu_started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mb": rss / 1024,
                  "rss_before_mb": rss_before / 1024, "rows": rows}))
"""


def run_child(source: str, data_dir: Path, mode: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, source, str(data_dir), tmp, mode],
            capture_output=True, text=True, cwd=REPO, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{source} ({mode}) failed:\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["warehouse_mb"] = sum(
            p.stat().st_size for p in Path(tmp).glob("*.duckdb")) / 2**20
    return result


def measure(source: str, data_dir: Path, repeats: int) -> dict:
    runs = {mode: [run_child(source, data_dir, mode) for _ in range(repeats)]
            for mode in ("import", "read")}
    med = {mode: statistics.median(r["seconds"] for r in rs) for mode, rs in runs.items()}
    cpu = {mode: statistics.median(r["cpu_seconds"] for r in rs) for mode, rs in runs.items()}
    imp = runs["import"]
    return {
        "source": source,
        "import_s_median": round(med["import"], 3),
        "import_s_runs": [round(r["seconds"], 3) for r in imp],
        "import_cpu_s_median": round(cpu["import"], 3),
        "read_only_s_median": round(med["read"], 3),
        "read_only_cpu_s_median": round(cpu["read"], 3),
        "import_over_read_cpu": round(cpu["import"] / cpu["read"], 2) if cpu["read"] > 0.01
        else None,
        "peak_rss_mb_median": round(statistics.median(r["peak_rss_mb"] for r in imp), 1),
        "rss_before_import_mb": round(statistics.median(r["rss_before_mb"] for r in imp), 1),
        "read_only_peak_rss_mb": round(
            statistics.median(r["peak_rss_mb"] for r in runs["read"]), 1),
        "warehouse_mb": round(imp[0]["warehouse_mb"], 1),
        "rows": imp[0]["rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sources", nargs="*",  # own-shop sources: bench/own_shop.py
                        default=[s for s in SOURCES if s not in OWN_SHOP_SOURCES])
    args = parser.parse_args()
    settings = load_settings()
    data_dir = settings.data_dir.resolve()
    sources = [s for s in args.sources
               if SOURCES[s][1] is None or default_source_dir(s, settings).is_dir()]
    load_before = os.getloadavg()[0]
    results = [measure(s, data_dir, args.repeats) for s in tqdm(sources, desc="sources")]
    load = [round(load_before, 1), round(os.getloadavg()[0], 1)]

    table = Table("source", "import s", "import CPU s", "read-only CPU s", "CPU import / read",
                  "peak RSS MB", "RSS before MB", "warehouse MB", "rows",
                  title=f"import, median of {args.repeats} runs, load average {load}")
    for r in results:
        table.add_row(r["source"], f"{r['import_s_median']:.2f}", f"{r['import_cpu_s_median']:.2f}",
                      f"{r['read_only_cpu_s_median']:.2f}",
                      str(r["import_over_read_cpu"] or "-"), f"{r['peak_rss_mb_median']:.0f}",
                      f"{r['rss_before_import_mb']:.0f}", f"{r['warehouse_mb']:.1f}",
                      f"{sum(r['rows'].values()):,}")
    Console(width=160).print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
                   f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "repeats": args.repeats,
        "load_average_1min_before_after": load,
        "results": results,
    }, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
