"""Cost of the first `predict_behavior` call and segment query after one ingested event:
`python bench/event_cost.py [--users 4300 1000000] [--what behavior segments] [--repeats 5]
[--full-repeats N] [--tool-full-repeats N]`.

Per shop size: a purchase_30d model is trained once on the importer's synthetic shop of
--model-users users (measured too when --users names that size), and serves every size (a larger shop is generated directly in DuckDB by
`bench/segments.py`'s generator; the cost measured is the features and the scores, not the
model's fit). Each repeat appends one purchase event for a random user through
`warehouse.append_event` (what `POST /v1/events` calls), then times `predict` for that user:
"per user" is the served code (only that user's features and score are recomputed), "other
process" the same after the event was appended by another process (a second API worker, or the
CLI: the journal file beside the warehouse carries it; the append is not timed), "full" is the
same code with the event journal ignored, which is what happened before (every user rescored).
All run in the same process, alternating, so the ratios hold on a loaded machine; the load
average is recorded. --full-repeats caps the full runs (minutes each at 1M users on a loaded
2-core machine).

Segments (--what segments): the same events, then the first segment query: "facts" is
`engine_for` (the in-memory per-user facts of `knowledge/segments.py`) plus one summary query
over everyone, per user (only that user's row recomputed) against full (the journal ignored:
the facts rebuilt, as before); "tool" is the whole `query_segment` answer grouped by purchase
probability, which also brings the propensity scores up to date (`tools.behavior`, per user or,
with the journal ignored, every user rescored); "other process" as above; "new day" (facts
only) an event a day after the facts' "now", which before rebuilt every row and now shifts
everyone's recency columns. --tool-full-repeats caps the full tool runs.

Writes bench/results/event_cost.json, keeping the sizes of earlier runs that this one did not
measure (behaviour under the key "<users>", segments under "segments_<users>").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results
from bench.segments import generate_shop
from finetune.behavior import prediction_log
from finetune.behavior.artifacts import serving_version
from finetune.behavior.train import DEFAULT_TASKS, train_default
from knowledge import event_journal, warehouse
from knowledge.segment_sql import SegmentFilters, compile_where, summary_query
from knowledge.segments import engine_for
from knowledge.settings import Settings, load_settings
from tools import behavior
from tools.segments import QuerySegmentArgs, run_segment_query

RESULTS = REPO / "bench" / "results" / "event_cost.json"


def small_shop(base: Settings, workdir: Path, users: int) -> Settings:
    """The synthetic shop (the importer's) of `users` users, with purchase_30d trained."""
    from knowledge.cli import import_source

    shop = base.model_copy(update={"shop": "synthetic", "synthetic_users": users,
                                   "warehouse_path": workdir / f"synthetic_shop_{users}.duckdb",
                                   "artifacts_dir": workdir / "event_cost_artifacts"})
    if not shop.warehouse.is_file():
        import_source(shop, "synthetic", into=shop.warehouse)
    if serving_version(shop, "synthetic", "purchase_30d") is None:
        train_default(shop, [DEFAULT_TASKS[0]])
    return shop


def generated_shop(workdir: Path, users: int) -> Path:
    path = workdir / f"synthetic_{users}.duckdb"  # the file bench/segments.py generates
    if not path.is_file():
        print(f"generating {users:,} users into {path} ...")
        generate_shop(path, users)
    return path


APPEND_ELSEWHERE = """import sys
from datetime import datetime
from knowledge import warehouse
warehouse.append_event(sys.argv[1], sys.argv[2], sys.argv[3], 'purchase',
                       datetime.fromisoformat(sys.argv[4]), quantity=1, price=9.9)
"""


def append(shop: Settings, user: str, product: str, ts: datetime, elsewhere: bool) -> None:
    """One purchase event for `user`, appended by this process or by another one."""
    if not elsewhere:
        warehouse.append_event(shop.warehouse, user, product, "purchase", ts, quantity=1,
                               price=9.9)
        return
    subprocess.run([sys.executable, "-c", APPEND_ELSEWHERE, str(shop.warehouse), user, product,
                    ts.isoformat()], cwd=REPO, check=True)


def timed_event(shop: Settings, user: str, product: str, ts, mode: str) -> float:
    """Seconds of the first predict call after one event for `user` (mode: per_user,
    other_process or full)."""
    append(shop, user, product, ts, elsewhere=mode == "other_process")
    if mode == "full":  # as before the journal: the caches rebuild every row
        event_journal.forget(shop.warehouse)
    started = time.perf_counter()
    behavior.predict(shop, user)
    return time.perf_counter() - started


def event_users(shop: Settings) -> tuple[list[str], datetime]:
    """The users with events, and the last event's time (events then: same day, same cutoff);
    adds the product the events buy."""
    con = duckdb.connect(str(shop.warehouse))
    con.execute("INSERT INTO products (product_id, title, category, price) "
                "SELECT 'bench-p', 'bench product', 'kitchen', 9.9 WHERE NOT EXISTS "
                "(SELECT 1 FROM products WHERE product_id = 'bench-p')")
    users = [r[0] for r in con.execute("SELECT DISTINCT user_id FROM events").fetchall()]
    [(last,)] = con.execute("SELECT max(ts) FROM events").fetchall()
    con.close()
    return users, last


SEGMENT_QUESTION = QuerySegmentArgs(question="how many customers, by purchase probability?",
                                    group_by="purchase_probability")
EVERYONE = summary_query(compile_where(SegmentFilters()))


def segment_query(shop: Settings, tool: bool) -> None:
    if tool:
        run_segment_query(shop, SEGMENT_QUESTION, chart=False)
    else:
        engine_for(shop.warehouse).run(EVERYONE)


def timed_segment_event(shop: Settings, user: str, product: str, ts: datetime, mode: str,
                        tool: bool) -> float:
    """Seconds of the first segment query (facts only, or the whole tool) after one event
    (mode: per_user, other_process, new_day or full)."""
    if mode != "full":  # facts and scores of the current state (a full run forgot the journal)
        segment_query(shop, tool=mode != "new_day")
    if mode == "new_day":
        ts = engine_for(shop.warehouse).now + timedelta(days=1)
    append(shop, user, product, ts, elsewhere=mode == "other_process")
    if mode == "full":  # as before the journal: the facts (and the scores) rebuild every row
        event_journal.forget(shop.warehouse)
    started = time.perf_counter()
    segment_query(shop, tool)
    return time.perf_counter() - started


def bench_segments(shop: Settings, repeats: int, full_repeats: int, tool_full_repeats: int,
                   seed: int = 0) -> dict:
    users, last = event_users(shop)
    rng = np.random.default_rng(seed)
    load_before = os.getloadavg()
    cold = {}
    for tool in (False, True):  # the facts, then the scores, of the current state
        started = time.perf_counter()
        segment_query(shop, tool)
        cold["tool" if tool else "facts"] = round(time.perf_counter() - started, 3)
    warm = {}
    for tool in (False, True):
        started = time.perf_counter()
        segment_query(shop, tool)
        warm["tool" if tool else "facts"] = round(time.perf_counter() - started, 4)
    caps = {"facts_per_user": repeats, "facts_other_process": repeats, "facts_full": full_repeats,
            "tool_per_user": repeats, "tool_other_process": repeats, "tool_full": tool_full_repeats,
            "facts_new_day": repeats}  # last: a new day moves the scores' cutoff (full rescore)
    times: dict[str, list[float]] = {mode: [] for mode in caps}
    for i in range(repeats):
        for mode, seconds in times.items():
            if i < caps[mode] and mode != "facts_new_day":
                kind, how = mode.split("_", 1)
                seconds.append(timed_segment_event(shop, str(rng.choice(users)), "bench-p", last,
                                                   how, kind == "tool"))
    for _ in range(repeats):
        times["facts_new_day"].append(timed_segment_event(
            shop, str(rng.choice(users)), "bench-p", last, "new_day", tool=False))
    median = {mode: statistics.median(t) for mode, t in times.items() if t}
    return {"users": engine_for(shop.warehouse).users, "measured_at": time.strftime(
                "%Y-%m-%dT%H:%M:%S%z"),
            "load_average_1_5_15": {"start": load_before, "end": os.getloadavg()},
            "first_query_s": cold, "warm_query_s": warm,
            "after_event_s": {mode: [round(t, 4) for t in ts] for mode, ts in times.items()},
            "median_s": {mode: round(m, 4) for mode, m in median.items()},
            "full_over_per_user": {
                kind: round(median[f"{kind}_full"] / median[f"{kind}_per_user"], 1)
                for kind in ("facts", "tool") if f"{kind}_full" in median}}


def bench_size(shop: Settings, repeats: int, full_repeats: int, seed: int = 0) -> dict:
    users, last = event_users(shop)  # same day: same cutoff
    rng = np.random.default_rng(seed)
    warm_user = users[0]
    started = time.perf_counter()
    behavior.predict(shop, warm_user)  # the caches of the current state
    cold = time.perf_counter() - started
    started = time.perf_counter()
    behavior.predict(shop, warm_user)
    warm = time.perf_counter() - started
    times: dict[str, list[float]] = {"per_user": [], "other_process": [], "full": []}
    for i in range(repeats):
        for mode, seconds in times.items():
            if mode != "full" or i < full_repeats:
                seconds.append(timed_event(shop, str(rng.choice(users)), "bench-p", last, mode))
    median = {mode: statistics.median(t) for mode, t in times.items()}
    return {"users": len(users), "load_average_1_5_15": os.getloadavg(),
            "first_call_s": round(cold, 3), "warm_call_s": round(warm, 4),
            "after_event_s": {mode: [round(t, 4) for t in ts] for mode, ts in times.items()},
            "median_s": {mode: round(m, 4) for mode, m in median.items()},
            "full_over_per_user": round(median["full"] / median["per_user"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[4300, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full-repeats", type=int, default=None, help="default: --repeats")
    parser.add_argument("--tool-full-repeats", type=int, default=None,
                        help="full runs of the segment tool (default: --full-repeats)")
    parser.add_argument("--what", nargs="+", choices=["behavior", "segments"],
                        default=["behavior", "segments"])
    parser.add_argument("--model-users", type=int, default=4300)
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "bench")
    opts = parser.parse_args()
    opts.workdir.mkdir(parents=True, exist_ok=True)
    model_shop = small_shop(load_settings(), opts.workdir, opts.model_users)
    results = json.loads(RESULTS.read_text())["results"] if RESULTS.is_file() else {}
    for users in opts.users:
        source = model_shop.warehouse if users == opts.model_users else \
            generated_shop(opts.workdir, users)
        copy = opts.workdir / f"event_cost_{users}.duckdb"  # events are appended to a copy
        shutil.copy(source, copy)
        shop = model_shop.model_copy(update={"warehouse_path": copy})
        full_repeats = opts.full_repeats or opts.repeats
        if "behavior" in opts.what:
            results[str(users)] = bench_size(shop, opts.repeats, full_repeats)
            print(results[str(users)])
        if "segments" in opts.what:
            results[f"segments_{users}"] = bench_segments(
                shop, opts.repeats, full_repeats, opts.tool_full_repeats or full_repeats)
            print(results[f"segments_{users}"])
        copy.unlink()
        if prediction_log.log_path(shop).is_file():
            prediction_log.log_path(shop).unlink()
    def seconds(median: dict, mode: str) -> str:
        return "-" if mode not in median else f"{median[mode]:.3f}"

    table = Table("users", "first call s", "warm call s", "after 1 event: full s",
                  "per user s", "other process s", "full / per user",
                  title="predict_behavior after one event")
    for key, r in results.items():
        if not key.startswith("segments_"):
            table.add_row(f"{r['users']:,}", f"{r['first_call_s']:.2f}",
                          f"{r['warm_call_s']:.3f}", seconds(r["median_s"], "full"),
                          seconds(r["median_s"], "per_user"),
                          seconds(r["median_s"], "other_process"),
                          f"{r['full_over_per_user']:.1f}x")
    Console().print(table)
    table = Table("users", "query", "first s", "warm s", "after 1 event: full s", "per user s",
                  "other process s", "new day s", "full / per user",
                  title="first segment query after one event")
    for key, r in results.items():
        for kind in ("facts", "tool") if key.startswith("segments_") else ():
            median = r["median_s"]
            table.add_row(f"{r['users']:,}", kind, f"{r['first_query_s'][kind]:.2f}",
                          f"{r['warm_query_s'][kind]:.3f}", seconds(median, f"{kind}_full"),
                          seconds(median, f"{kind}_per_user"),
                          seconds(median, f"{kind}_other_process"),
                          seconds(median, f"{kind}_new_day"),
                          f"{r['full_over_per_user'].get(kind, '-')}x")
    Console().print(table)
    write_results(RESULTS, "predict_behavior after one ingested event", results=results)


if __name__ == "__main__":
    main()
