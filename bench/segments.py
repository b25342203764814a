"""Segment query latency: `python bench/segments.py [--users 1000000] [--repeats 20]`.

Two warehouses: Online Retail (imported from data_dir if not built yet) and a synthetic shop of
--users users generated directly in DuckDB (the synthetic importer models far more than this
benchmark needs and would take long at that size). On each, a fixed set of segment questions
(filters + group_by) runs --repeats times warm; we report p50/p99 of one query_segment answer
(summary + sample + grouped table, no chart) and, as the baseline, the same summary statement
run the direct way: a fresh read-only connection to the warehouse file that aggregates orders
and events per user inside the query. Also: the one-off cost of loading the in-memory facts
and of rendering a chart PNG. Propensity filters use uniform random scores (no model; this
measures the filter, not the behaviour model). Writes bench/results/segments.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results
from knowledge import warehouse
from knowledge.segment_sql import (
    FACTS_SQL,
    NOW_SQL,
    SegmentFilters,
    compile_where,
    summary_query,
)
from knowledge.segments import engine_for
from knowledge.settings import Settings, load_settings
from tools.segments import QuerySegmentArgs, propensity_key, render_chart, run_segment_query

RESULTS = REPO / "bench" / "results" / "segments.json"


def questions(country: str, countries: list[str], category: str) -> list[dict]:
    """The benchmark's segment questions, as query_segment arguments."""
    return [
        {"filters": {}, "group_by": None},
        {"filters": {"country": country, "min_spend": 500, "inactive_days_min": 60},
         "group_by": "recency"},
        {"filters": {"min_orders": 5}, "group_by": "country"},
        {"filters": {"active_within_days": 30}, "group_by": "orders"},
        {"filters": {"purchased_category": category}, "group_by": "spend"},
        {"filters": {"country": countries, "max_spend": 100}, "group_by": "first_order_month"},
        {"filters": {"inactive_days_min": 180, "max_orders": 1}, "group_by": "category"},
        {"filters": {"min_purchase_probability": 0.5, "min_orders": 2},
         "group_by": "purchase_probability"},
        {"filters": {"country": country, "purchased_category": category, "min_orders": 2,
                     "max_spend": 5000, "active_within_days": 90,
                     "max_purchase_probability": 0.3}, "group_by": "country"},
    ]


def generate_shop(path: Path, users: int, seed: int = 0) -> None:
    """A synthetic warehouse of `users` users (about 3 orders and 6 events each), in DuckDB SQL."""
    with warehouse.atomic_update(path) as con:
        con.execute(f"SELECT setseed({seed / 1000})")
        con.execute(f"""INSERT INTO users (user_id, country, signup_at)
            SELECT 'u' || i, ['USA', 'USA', 'USA', 'Canada', 'United Kingdom', 'Germany'][1 + (hash(i) % 6)::INT],
                   TIMESTAMP '2025-01-01' + INTERVAL (hash(i * 7) % 300) DAY
            FROM range({users}) t(i)""")
        con.execute(f"""INSERT INTO orders (order_id, user_id, ordered_at, status, total)
            SELECT 'o' || u || '-' || k, 'u' || u,
                   TIMESTAMP '2025-11-01' + INTERVAL (hash(u * 31 + k) % 525600) MINUTE * 1,
                   CASE WHEN hash(u + k * 13) % 20 = 0 THEN 'cancelled' ELSE 'delivered' END,
                   round(10 + (hash(u * 17 + k) % 20000) / 100.0, 2)
            FROM range({users}) a(u), range(6) b(k)
            WHERE k < hash(u * 3) % 7""")
        con.execute("""INSERT INTO events (user_id, product_id, category, event_type, ts)
            SELECT user_id, 'p' || (hash(order_id) % 5000),
                   ['home decor', 'kitchen', 'garden', 'toys', 'stationery', 'apparel',
                    'beauty', 'pet supplies'][1 + (hash(order_id) % 8)::INT],
                   'purchase', ordered_at
            FROM orders WHERE status <> 'cancelled'""")
        con.execute(f"""INSERT INTO events (user_id, product_id, category, event_type, ts)
            SELECT 'u' || u, 'p' || (hash(u + k) % 5000), 'toys', 'view',
                   TIMESTAMP '2025-11-01' + INTERVAL (hash(u * 11 + k) % 525600) MINUTE * 1
            FROM range({users}) a(u), range(3) b(k)""")


def direct_summary(path: Path, args: QuerySegmentArgs, engine) -> None:
    """Baseline: the same summary statement over per-user facts computed inside the query,
    on a fresh read-only connection to the warehouse file."""
    query = summary_query(compile_where(engine.normalise(args.filters or SegmentFilters())))
    con = duckdb.connect(str(path), read_only=True)
    now = con.execute(NOW_SQL).fetchall()[0][0]  # a value from the warehouse itself: safe inline
    facts = FACTS_SQL.replace("$now", f"TIMESTAMP '{now}'")
    con.execute(f"WITH user_facts AS ({facts}) {query.sql}", query.params).fetchall()
    con.close()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def bench_shop(name: str, settings: Settings, repeats: int) -> dict:
    path = settings.warehouse
    started = time.perf_counter()
    engine = engine_for(path)
    load_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    ids = engine.con.execute("SELECT user_id FROM user_facts").df()["user_id"]
    started = time.perf_counter()
    engine.set_propensity(propensity_key(settings, engine),
                          pd.DataFrame({"user_id": ids, "probability": rng.random(len(ids))}))
    scores_s = time.perf_counter() - started
    top = engine.con.execute("SELECT country FROM user_facts WHERE country IS NOT NULL "
                             "GROUP BY 1 ORDER BY count(*) DESC LIMIT 3").fetchall()
    category = engine.con.execute("SELECT unnest(categories) AS c FROM user_facts GROUP BY 1 "
                                  "ORDER BY count(*) DESC LIMIT 1").fetchall()[0][0]
    cases = [QuerySegmentArgs(question="bench", **q)
             for q in questions(top[0][0], [top[1][0], top[2][0]], category)]
    tool_times, direct_times = [], []
    for args in tqdm(cases, desc=f"{name} queries"):
        run_segment_query(settings, args, chart=False)  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            run_segment_query(settings, args, chart=False)
            tool_times.append(time.perf_counter() - t)
        if not (args.filters and args.filters.needs_propensity()):
            for _ in range(max(3, repeats // 4)):
                t = time.perf_counter()
                direct_summary(path, args, engine)
                direct_times.append(time.perf_counter() - t)
    chart_times = []
    with tempfile.TemporaryDirectory() as tmp:
        rows = run_segment_query(settings, cases[2], chart=False)["groups"]["rows"]
        for i in range(5):
            t = time.perf_counter()
            render_chart(rows, "country", Path(tmp) / f"{i}.png")
            chart_times.append(time.perf_counter() - t)
    return {
        "users": engine.users, "warehouse_mb": round(os.path.getsize(path) / 2**20, 1),
        "facts_load_s": round(load_s, 3), "set_scores_s": round(scores_s, 3), "questions": len(cases), "repeats": repeats,
        "query_segment_ms": {"p50": percentile(tool_times, 50), "p99": percentile(tool_times, 99),
                             "n": len(tool_times)},
        "direct_summary_ms": {"p50": percentile(direct_times, 50),
                              "p99": percentile(direct_times, 99), "n": len(direct_times)},
        "chart_png_ms_median": 1000 * statistics.median(chart_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "bench")
    opts = parser.parse_args()
    base = load_settings()
    results = {}
    retail = base.model_copy(update={"shop": "online_retail", "warehouse_path": None,
                                     "artifacts_dir": opts.workdir / "artifacts"})
    if not retail.warehouse.is_file():
        from knowledge.cli import import_source

        print(f"importing online_retail into {retail.warehouse} ...")
        import_source(retail, "online_retail")
    results["online_retail"] = bench_shop("online_retail", retail, opts.repeats)
    big_path = opts.workdir / f"synthetic_{opts.users}.duckdb"
    if not big_path.is_file():
        print(f"generating {opts.users:,} users into {big_path} ...")
        t = time.perf_counter()
        generate_shop(big_path, opts.users)
        print(f"  {time.perf_counter() - t:.0f}s")
    big = base.model_copy(update={"warehouse_path": big_path,
                                  "artifacts_dir": opts.workdir / "artifacts"})
    results[f"synthetic_{opts.users}"] = bench_shop(f"synthetic {opts.users:,}", big, opts.repeats)

    table = Table("warehouse", "users", "facts load s", "query_segment p50 ms", "p99 ms",
                  "direct summary p50 ms", "p99 ms", "chart PNG ms", title="segment queries, warm")
    for name, r in results.items():
        q, d = r["query_segment_ms"], r["direct_summary_ms"]
        table.add_row(name, f"{r['users']:,}", f"{r['facts_load_s']:.2f}", f"{q['p50']:.1f}",
                      f"{q['p99']:.1f}", f"{d['p50']:.1f}", f"{d['p99']:.1f}",
                      f"{r['chart_png_ms_median']:.0f}")
    Console().print(table)
    write_results(RESULTS, "segment query latency (warm)", results=results)


if __name__ == "__main__":
    main()
