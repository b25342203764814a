"""Synthetic shop benchmark: `python bench/synthetic.py [--repeats 3] [--seeds 6]`.

Speed: generating the shop (knowledge.synthetic.shop.generate) and importing it (generate +
writing every table to a fresh DuckDB file) at three sizes, each run in its own process;
medians of --repeats runs of wall time, CPU time and peak RSS. The generate-only run is the
baseline the import is compared with (the ratio is the cost of writing DuckDB).

Fidelity of the campaign (what uplift models are checked against): for --seeds seeds of a
--fidelity-users shop, per arm the observed conversion rate against its exact expectation
(mean of baseline p0 + true_uplift), as a z-score, and the observed lift over control against
the mean true uplift.

Shape of the default shop (seed 42): funnel, popularity concentration, seasonality, repeat
buyers, churn. Writes bench/results/synthetic.json and bench/results/synthetic.png.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results
from knowledge.settings import Settings
from knowledge.synthetic.shop import Shop, generate

RESULTS = REPO / "bench" / "results"
SIZES = [(3000, 400, 365), (10000, 1000, 365), (30000, 2000, 365)]
console = Console()


def _one_run(users: int, products: int, days: int, write: bool) -> dict:
    """Runs in a fresh process, so that peak RSS belongs to this run alone."""
    from knowledge.cli import import_source

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(warehouse_dir=Path(tmp), synthetic_users=users,
                            synthetic_products=products, synthetic_days=days)
        wall, cpu = time.perf_counter(), time.process_time()
        if write:
            _, report = import_source(settings, "synthetic", into=settings.warehouse)
            rows = sum(report.rows.values())
        else:
            rows = sum(len(t) for t in generate(settings).tables.values())
        return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rows": rows}


def speed(repeats: int) -> list[dict]:
    out = []
    jobs = [(size, write) for size in SIZES for write in (False, True)]
    for (users, products, days), write in tqdm(jobs, desc="speed"):
        runs = []
        for _ in range(repeats):
            with ProcessPoolExecutor(max_workers=1) as pool:
                runs.append(pool.submit(_one_run, users, products, days, write).result())
        out.append({"users": users, "products": products, "days": days,
                    "what": "import" if write else "generate", "rows": runs[0]["rows"],
                    **{k: round(statistics.median(r[k] for r in runs), 2)
                       for k in ("wall_s", "cpu_s", "peak_rss_mb")}})
    return out


def fidelity(seeds: list[int], users: int) -> list[dict]:
    out = []
    for seed in tqdm(seeds, desc="fidelity"):
        shop = generate(Settings(seed=seed, synthetic_users=users, synthetic_products=300,
                                 synthetic_days=120))
        a = shop.tables["campaign_assignments"]
        expected = shop.baseline.loc[a["user_id"]].to_numpy() + a["true_uplift"].to_numpy()
        control = a.loc[a["arm"] == "control", "conversion"]
        for arm in ("control", "email", "coupon"):
            rows = (a["arm"] == arm).to_numpy()
            y, p = a["conversion"].to_numpy()[rows], expected[rows]
            lift = y.mean() - control.mean()
            se = np.sqrt(y.var() / len(y) + control.var() / len(control))
            out.append({
                "seed": seed, "arm": arm, "users": int(rows.sum()),
                "conversion": round(float(y.mean()), 4), "expected": round(float(p.mean()), 4),
                "z": round(float((y.sum() - p.sum()) / np.sqrt((p * (1 - p)).sum())), 2),
                "lift": round(float(lift), 4),
                "mean_true_uplift": round(float(a.loc[rows, "true_uplift"].mean()), 4),
                "lift_se": round(float(se), 4),
                "negative_share": round(float((a.loc[rows, "true_uplift"] < 0).mean()), 4),
            })
    return out


def shape(shop: Shop) -> dict:
    t = shop.tables
    events, orders, items = t["events"], t["orders"], t["order_items"]
    n = events["event_type"].value_counts()
    per_product = events.groupby("product_id").size().sort_values(ascending=False)
    monthly = events.groupby(events["ts"].dt.month).size()
    weekday = events.groupby(events["ts"].dt.day_of_week).size()
    lines = items.merge(orders[["order_id", "user_id"]], on="order_id")
    rebuy = lines.groupby(["user_id", "product_id"])["order_id"].nunique() >= 2
    last_seen = events.groupby("user_id")["ts"].max()
    return {
        "rows": {name: len(frame) for name, frame in t.items()},
        "click_per_view": round(n["click"] / n["view"], 3),
        "cart_per_click": round(n["cart"] / n["click"], 3),
        "purchase_per_cart": round(n["purchase"] / n["cart"], 3),
        "top10pct_products_event_share": round(per_product.head(len(per_product) // 10).sum()
                                               / per_product.sum(), 3),
        "december_over_july_events": round(monthly[12] / monthly[7], 2),
        "sunday_over_friday_events": round(weekday[6] / weekday[4], 2),
        "buyers_share_with_2plus_orders": round((orders.groupby("user_id").size() >= 2).mean(), 3),
        "buyers_share_rebuying_a_product": round(rebuy.groupby(level=0).any().mean(), 3),
        "users_inactive_last_90_days": round(((events["ts"].max() - last_seen).dt.days > 90).mean(), 3),
        "average_order_value": round(orders["total"].mean(), 2),
        "order_status": orders["status"].value_counts().to_dict(),
    }


def plot(shop: Shop, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events, a = shop.tables["events"], shop.tables["campaign_assignments"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    daily = events.groupby(events["ts"].dt.floor("D")).size()
    axes[0].plot(daily.index, daily.to_numpy(), lw=0.8)
    axes[0].set_title("events per day (default shop)")
    axes[0].tick_params(axis="x", labelrotation=45)
    counts = np.sort(events.groupby("product_id").size().to_numpy())[::-1]
    axes[1].loglog(np.arange(1, len(counts) + 1), counts)
    axes[1].set(title="events per product by rank", xlabel="rank", ylabel="events")
    for arm in ("email", "coupon"):
        axes[2].hist(a.loc[a["arm"] == arm, "true_uplift"], bins=40, alpha=0.6, label=arm)
    axes[2].axvline(0, color="k", lw=0.8)
    axes[2].set(title="true uplift per treated user", xlabel="effect on P(conversion)")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def print_tables(result: dict) -> None:
    table = Table("users", "products", "days", "what", "rows", "wall s", "CPU s", "peak RSS MB",
                  title="speed (medians)")
    for r in result["speed"]:
        table.add_row(*(str(r[k]) for k in ("users", "products", "days", "what", "rows", "wall_s",
                                            "cpu_s", "peak_rss_mb")))
    console.print(table)
    table = Table("seed", "arm", "users", "conversion", "expected", "z", "lift", "mean true uplift",
                  "lift SE", title="campaign fidelity")
    for r in result["fidelity"]:
        table.add_row(*(str(r[k]) for k in ("seed", "arm", "users", "conversion", "expected", "z",
                                            "lift", "mean_true_uplift", "lift_se")))
    console.print(table)
    console.print(result["shape"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--fidelity-users", type=int, default=30000)
    args = parser.parse_args()
    default = generate(Settings())
    result = {"shape": shape(default), "speed": speed(args.repeats),
              "fidelity": fidelity(list(range(1, args.seeds + 1)), args.fidelity_users)}
    zs = pd.DataFrame(result["fidelity"])["z"]
    result["fidelity_summary"] = {"runs": len(zs), "mean_z": round(zs.mean(), 2),
                                  "max_abs_z": round(zs.abs().max(), 2)}
    print_tables(result)
    write_results(RESULTS / "synthetic.json", "synthetic", args=vars(args), **result)
    plot(default, RESULTS / "synthetic.png")


if __name__ == "__main__":
    main()
