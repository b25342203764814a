"""The own-shop import on real and generated data: `python bench/own_shop.py [--repeats 3]
[--lines 10000000]`.

1. Online Retail through the plain ``transactions`` preset and through the ``online_retail``
   source (the same preset plus the source's cleaning rules and keyword categories), each in a
   fresh subprocess: wall time, CPU time and peak RSS (medians), raw lines per wall second,
   rows read / inserted / rejected.
2. The unchanged re-import: the same file again (must insert and update nothing and leave the
   warehouse byte-identical).
3. Online Retail split by time into two exports (before / from 2011-07-01), imported one after
   the other, against one import of the whole file: the tables must be equal.
4. With ``--lines N``: a generated transactions file of N lines (gzip CSV), imported once.

Writes bench/results/own_shop.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results

RESULTS = REPO / "bench" / "results" / "own_shop.json"
TABLES = ("users", "products", "orders", "order_items", "events")

# argv: source, path ("" = default), warehouse file
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from knowledge.cli import import_source
from knowledge.settings import load_settings
source, path, target = sys.argv[1:4]
started = time.perf_counter()
_, report = import_source(load_settings(), source, Path(path) if path else None, Path(target),
                          **({"currency": "GBP", "timezone": "Europe/London"}
                             if source == "transactions" else {}))
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
lines = report.raw.get("lines") or sum(c["read"] for c in report.counts.values())
print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024, "lines": lines, "rows": report.rows,
                  "counts": report.counts}))
"""


def run(source: str, path: Path | None, target: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, source, str(path or ""), str(target)],
                          capture_output=True, text=True, cwd=REPO, check=False,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"{source} failed:\n{done.stderr[-3000:]}")
    # DuckDB draws its progress bar on stdout for large files: the result is the last JSON line
    return json.loads(next(line for line in reversed(done.stdout.splitlines())
                           if line.startswith("{")))


def summary(runs: list[dict]) -> dict:
    wall = statistics.median(r["seconds"] for r in runs)
    return {"wall_s_median": round(wall, 2),
            "wall_s_runs": [round(r["seconds"], 2) for r in runs],
            "raw_lines": runs[0]["lines"], "lines_per_s": round(runs[0]["lines"] / wall),
            "cpu_s_median": round(statistics.median(r["cpu_seconds"] for r in runs), 2),
            "peak_rss_mb_median": round(statistics.median(r["peak_rss_mb"] for r in runs)),
            "rows": runs[0]["rows"], "counts": runs[0]["counts"]}


def contents(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT md5(string_agg(x::VARCHAR, '|' ORDER BY x::VARCHAR)), "
                               f"count(*) FROM {t} x").fetchone() for t in TABLES}
    finally:
        con.close()


def split_equals_whole(raw: Path, tmp: Path) -> dict:
    con = duckdb.connect()
    for name, cond in [("first", "< '2011-07-01'"), ("second", ">= '2011-07-01'")]:
        con.execute(f"COPY (SELECT * FROM read_csv('{raw}', all_varchar = true) "
                    f"WHERE InvoiceDate {cond}) TO '{tmp / name}.csv.gz' (HEADER, COMPRESSION gzip)")
    con.close()
    whole, split = tmp / "whole.duckdb", tmp / "split.duckdb"
    run("transactions", raw, whole)
    first = run("transactions", tmp / "first.csv.gz", split)
    second = run("transactions", tmp / "second.csv.gz", split)
    a, b = contents(whole), contents(split)
    return {"equal": a == b, "tables": {t: {"whole": a[t][1], "split": b[t][1]} for t in TABLES},
            "first_counts": first["counts"], "second_counts": second["counts"]}


def generated(lines: int, tmp: Path) -> dict:
    path = tmp / "generated.csv.gz"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT 'o' || (i // 4) AS order_id, 'c' || (hash(i // 4) % 200000)
            AS customer_id, TIMESTAMP '2024-01-01' + to_seconds(i // 4) AS timestamp,
            'p' || (hash(i) % 50000) AS product_id, 'item ' || (hash(i) % 50000) AS title,
            1 + i % 3 AS quantity, round(1 + (hash(i) % 5000) / 100, 2) AS unit_price
        FROM range({lines}) t(i)) TO '{path}' (HEADER, COMPRESSION gzip)""")
    con.close()
    result = run("transactions", path, tmp / "generated.duckdb")
    return {"lines": lines, "file_mb": round(path.stat().st_size / 2**20, 1), **summary([result])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lines", type=int, default=0, help="also a generated file of N lines")
    args = parser.parse_args()
    from knowledge.settings import load_settings

    raw = load_settings().data_dir.resolve() / "online_retail_uci" / "online_retail.csv.gz"
    load = {"before": [round(x, 2) for x in os.getloadavg()]}
    out: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        generic, again, with_rules = [], [], []
        for i in range(args.repeats):
            target = tmp / f"generic{i}.duckdb"
            generic.append(run("transactions", raw, target))
            before = target.read_bytes()
            again.append(run("transactions", raw, target))
            assert target.read_bytes() == before, "the unchanged re-import rewrote the file"
            assert not any(c["inserted"] or c["updated"] for c in again[-1]["counts"].values()), \
                "the unchanged re-import inserted or updated rows"
            with_rules.append(run("online_retail", None, tmp / f"rules{i}.duckdb"))
        out["transactions_preset"] = summary(generic)
        out["unchanged_reimport"] = summary(again)
        out["online_retail_source_with_rules"] = summary(with_rules)
        out["split_by_time"] = split_equals_whole(raw, tmp)
        if args.lines:
            out["generated"] = generated(args.lines, tmp)
    load["after"] = [round(x, 2) for x in os.getloadavg()]
    for name, result in out.items():
        print(name, json.dumps({k: v for k, v in result.items() if k != "counts"}))
    print("load average (1, 5, 15 min):", load)
    write_results(RESULTS, "own_shop", raw_file=f"<data_dir>/{raw.parent.name}/{raw.name}", load_average_1_5_15_min=load,
                  repeats=args.repeats, **out)


if __name__ == "__main__":
    main()
