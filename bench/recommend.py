"""Recommendation quality and serving: `python bench/recommend.py [--part quality|serving|all]`.

Quality, every model side by side in one run, full ranking over every item seen before the
cutoff (no sampled negatives), protocols "all" (repeat purchases count) and "new" (the user's
history items removed from candidates and truth):
- Online Retail: train before 2011-11-09, truth = distinct items each customer buys after it.
- Taobao UserBehavior head: train before 2017-12-03, truth = items each user touches that day.
The hybrid's weights are tuned on a validation window that ends at the cutoff (Online Retail:
the 31 days before it, models fitted on the data before that; Taobao: 2017-12-02), then every
model is refitted on all data before the cutoff. The test window is never used for tuning.

Serving: index build time, single-query warm latency p50/p99 and recall@10 against exact search,
for the Online Retail text index (MiniLM, 384-d), the Taobao ALS item vectors (64-d) and a
synthetic clustered catalogue of --million 64-d vectors (HNSW and IVF parameter sweeps).
Writes bench/results/recommend.json (each part updates its own keys) and recommend.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from finetune.recommend.data import DAY, load_events
from finetune.recommend.evaluate import PROTOCOLS, evaluate, temporal_split
from finetune.recommend.hybrid import Hybrid
from finetune.recommend.train import lookup_encoder, make_components, tune_als_alpha
from knowledge import warehouse
from knowledge.cli import import_source
from knowledge.product_index import current_product_index, index_dir
from knowledge.settings import Settings, load_settings
from knowledge.vector_index import VectorIndex

RESULTS = REPO / "bench" / "results" / "recommend.json"
QUERY_THREADS = 1  # faiss OpenMP threads per single query; builds use all cores
console = Console()

# dataset -> (cutoff, end of the test window or None, validation days, half-life days)
SPLITS = {
    "online_retail": ("2011-11-09", None, 31, 30.0),
    "taobao": ("2017-12-03", "2017-12-04", 1, 1.0),
}


def ts(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def shop_settings(base: Settings, shop: str) -> Settings:
    settings = base.model_copy(update={"shop": shop, "warehouse_path": None})
    if not settings.warehouse.is_file():
        console.print(f"importing {shop} into {settings.warehouse} ...")
        import_source(settings, shop, into=settings.warehouse)
    return settings


def text_encoder(settings: Settings):
    """Product vectors from the saved text index (built now if missing or stale)."""
    index, texts = current_product_index(settings)
    vectors = index.index.reconstruct_n(0, index.meta.count)
    return dict(zip(index.ids, texts)), lookup_encoder(texts, vectors)


def quality(settings: Settings, shop: str, sasrec_seconds: float) -> dict:
    cutoff_day, end_day, valid_days, half_life = SPLITS[shop]
    settings = shop_settings(settings, shop)
    con = warehouse.connect(settings.warehouse)
    events = load_events(con)
    con.close()
    has_text = shop != "taobao"  # Taobao has no item text (titles are ids)
    texts, encoder = text_encoder(settings) if has_text else (None, None)
    cutoff = ts(cutoff_day)
    end = ts(end_day) if end_day else None
    truth_types = {"purchase"} if shop == "online_retail" else None

    def fitted(split, alpha):
        models, times = [], {}
        for model in make_components(half_life, sasrec_seconds, encoder, settings.seed, alpha):
            started = time.perf_counter()
            models.append(model.fit(split.train))
            times[model.name] = time.perf_counter() - started
        return models, times

    console.rule(f"{shop}: validation (tuning the hybrid)")
    val = temporal_split(events[events["ts"] < cutoff], cutoff - valid_days * DAY,
                         truth_types=truth_types, texts=texts)
    alpha = tune_als_alpha(val, settings.seed)
    val_models, _ = fitted(val, alpha)
    hybrid = Hybrid(val_models)
    weights = {p: dict(hybrid.tune(val.eval[p], p)) for p in PROTOCOLS}

    console.rule(f"{shop}: test")
    test = temporal_split(events, cutoff, end, truth_types=truth_types, texts=texts)
    models, fit_s = fitted(test, alpha)
    results: dict[str, dict] = {}
    for model in models + ["hybrid"]:
        name = model if isinstance(model, str) else model.name
        results[name] = {"fit_s": round(fit_s.get(name, sum(fit_s.values())), 1)}
        if name == "sasrec":
            results[name]["epochs"] = round(model.epochs_done, 2)
        for protocol in PROTOCOLS:
            scorer = Hybrid(models, weights[protocol]) if name == "hybrid" else model
            results[name][protocol] = evaluate(scorer.score, test.eval[protocol], protocol,
                                               test.train.n_items, desc=f"{name}/{protocol}")
    return {
        "cutoff": cutoff_day, "test_end": end_day, "validation_days": valid_days,
        "items": test.train.n_items, "train_users": len(test.train.histories),
        "test_users": {p: len(test.eval[p].histories) for p in PROTOCOLS},
        "truth": "purchases" if truth_types else "any interaction (view, fav, cart, purchase)",
        "hybrid_weights": weights, "als_alpha": alpha, "models": results,
    }


def latency(index: VectorIndex, queries: np.ndarray, warmup: int = 20) -> dict:
    """One query at a time on QUERY_THREADS threads (a server runs requests side by side)."""
    import faiss

    build_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(QUERY_THREADS)
    for q in queries[:warmup]:
        index.search_rows(q, 10)
    times = []
    for q in queries:
        started = time.perf_counter()
        index.search_rows(q, 10)
        times.append((time.perf_counter() - started) * 1000)
    faiss.omp_set_num_threads(build_threads)
    return {"p50_ms": round(float(np.percentile(times, 50)), 3),
            "p99_ms": round(float(np.percentile(times, 99)), 3)}


def recall_at_10(exact: VectorIndex, approx: VectorIndex, vectors: np.ndarray,
                 queries: np.ndarray) -> float:
    """Share of the approximate top 10 that scores at least the exact 10th best. Scores, not
    ids: catalogues with many equal vectors (Taobao items seen once) have tied neighbours."""
    best, _ = exact.search_rows(queries, 10)
    _, found = approx.search_rows(queries, 10)
    hits = [(vectors[f[f >= 0]] @ q >= b[-1] - 1e-5).sum() / 10
            for q, b, f in zip(queries, best, found)]
    return round(float(np.mean(hits)), 4)


def sweep(name: str, vectors: np.ndarray, queries: np.ndarray, configs: list[tuple]) -> list[dict]:
    """Exact index first, then each (type, build params, [search params...])."""
    ids = [str(i) for i in range(len(vectors))]
    rows = []
    started = time.perf_counter()
    exact = VectorIndex.build(ids, vectors, "flat", model=name, data_version="bench")
    rows.append({"catalogue": name, "n": len(ids), "dim": vectors.shape[1], "index": "flat",
                 "build_s": round(time.perf_counter() - started, 2), "recall@10": 1.0,
                 **latency(exact, queries)})
    console.print(rows[-1])
    for kind, build, searches in configs:
        started = time.perf_counter()
        approx = VectorIndex.build(ids, vectors, kind, model=name, data_version="bench", **build)
        build_s = round(time.perf_counter() - started, 2)
        for params in searches:
            approx.tune(**params)
            rows.append({"catalogue": name, "n": len(ids), "dim": vectors.shape[1], "index": kind,
                         "params": {**build, **params}, "build_s": build_s,
                         "recall@10": recall_at_10(exact, approx, vectors, queries),
                         **latency(approx, queries)})
            console.print(rows[-1])
    return rows


def clustered(n: int, dim: int, centres: int, seed: int) -> np.ndarray:
    """Unit vectors around `centres` random centres: embedding-like, not uniform noise."""
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        out[start:stop] = middle[rng.integers(0, centres, stop - start)] \
            + 0.6 * rng.normal(size=(stop - start, dim)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


HNSW_SMALL = ("hnsw", {"m": 32, "ef_construction": 80}, [{"ef_search": 32}, {"ef_search": 64}])
IVF_SWEEP = [{"nprobe": 8}, {"nprobe": 16}, {"nprobe": 32}, {"nprobe": 64}]
Catalogue = tuple[str, np.ndarray, np.ndarray, list[tuple]]


def retail_text(settings: Settings, million: int, queries: int) -> Catalogue:
    """The Online Retail product index (MiniLM); queries = products with a little noise."""
    retail = shop_settings(settings, "online_retail")
    text_encoder(retail)  # builds the index if it is missing or stale
    index = VectorIndex.load(index_dir(retail))
    vectors = index.index.reconstruct_n(0, index.meta.count)
    rng = np.random.default_rng(0)
    noisy = vectors[rng.choice(len(vectors), queries)] + 0.05 * rng.normal(size=(queries, 384))
    return ("online_retail text (MiniLM)", vectors, noisy.astype(np.float32),
            [HNSW_SMALL, ("ivf", {}, IVF_SWEEP[:2])])


def taobao_items(settings: Settings, million: int, queries: int) -> Catalogue:
    """Taobao ALS item vectors (unit length); queries = items with a little noise."""
    from finetune.recommend.als import ALS
    from finetune.recommend.data import train_data

    con = warehouse.connect(shop_settings(settings, "taobao").warehouse)
    als = ALS(seed=settings.seed).fit(train_data(load_events(con)))
    con.close()
    items = als.item_factors / np.maximum(np.linalg.norm(als.item_factors, axis=1, keepdims=True),
                                          1e-9)
    rng = np.random.default_rng(0)
    users = items[rng.choice(len(items), queries)] + 0.05 * rng.normal(size=(queries, 64))
    return "taobao ALS items", items, users.astype(np.float32), [HNSW_SMALL, ("ivf", {}, IVF_SWEEP[:3])]


def synthetic_clustered(settings: Settings, million: int, queries: int) -> Catalogue:
    """64-d vectors around 2000 centres (embedding-like); queries = fresh points."""
    return (f"synthetic {million:,} (64-d, clustered)", clustered(million, 64, 2000, 1),
            clustered(queries, 64, 2000, 1),
            [("ivf", {"nlist": 4096}, IVF_SWEEP),
             ("hnsw", {"m": 16, "ef_construction": 40},
              [{"ef_search": 32}, {"ef_search": 64}, {"ef_search": 128}])])


def synthetic_uniform(settings: Settings, million: int, queries: int) -> Catalogue:
    """The worst case for any index: uniform directions, no structure at all."""
    def uniform(n: int, seed: int) -> np.ndarray:
        vectors = np.random.default_rng(seed).normal(size=(n, 64)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return (f"synthetic {million:,} (64-d, uniform)", uniform(million, 2), uniform(queries, 3),
            [("ivf", {"nlist": 4096}, [*IVF_SWEEP, {"nprobe": 128}, {"nprobe": 256}])])


CATALOGUES = {"online_retail": retail_text, "taobao": taobao_items,
              "synthetic": synthetic_clustered, "uniform": synthetic_uniform}


def serving(settings: Settings, names: list[str], million: int, queries: int) -> list[dict]:
    rows = []
    for name in names:
        console.print(f"serving: {name} ...")
        label, vectors, probes, configs = CATALOGUES[name](settings, million, queries)
        rows += [{"set": name, **row} for row in sweep(label, vectors, probes, configs)]
    return rows


def print_quality(shop: str, result: dict) -> None:
    columns = [f"{p} {m}" for p in PROTOCOLS for m in ("HR@10", "NDCG@10", "R@20", "MRR@20", "cov")]
    table = Table("model", *columns, title=f"{shop}: cutoff {result['cutoff']}")
    for name, row in result["models"].items():
        table.add_row(name, *[f"{row[p][m]:.4f}" for p in PROTOCOLS
                              for m in ("hr@10", "ndcg@10", "recall@20", "mrr@20", "coverage@10")])
    console.print(table)


def plot(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shops = [s for s in SPLITS if s in results.get("quality", {})]
    fig, axes = plt.subplots(1, len(shops), figsize=(6 * len(shops), 4), squeeze=False)
    for ax, shop in zip(axes[0], shops):
        models = results["quality"][shop]["models"]
        names = list(models)
        x = np.arange(len(names))
        for offset, protocol in ((-0.2, "all"), (0.2, "new")):
            ax.bar(x + offset, [models[n][protocol]["ndcg@10"] for n in names], 0.4, label=protocol)
        ax.set_xticks(x, names, rotation=30)
        ax.set_title(f"{shop}: NDCG@10 (test)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS.with_suffix(".png"), dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["quality", "serving", "all"], default="all")
    parser.add_argument("--datasets", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--sasrec-seconds", type=float, default=240.0)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--catalogues", nargs="+", default=list(CATALOGUES),
                        choices=list(CATALOGUES))
    args = parser.parse_args()
    settings = load_settings()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()}
    if args.part in ("quality", "all"):
        for shop in args.datasets:
            started = time.perf_counter()
            result = quality(settings, shop, args.sasrec_seconds)
            result["wall_s"] = round(time.perf_counter() - started)
            result["load_avg_1m"] = os.getloadavg()[0]
            results.setdefault("quality", {})[shop] = result
            print_quality(shop, result)
            RESULTS.write_text(json.dumps(results, indent=2))
        plot(results)
    if args.part in ("serving", "all"):
        load_before = os.getloadavg()[0]
        rows = serving(settings, args.catalogues, args.million, args.queries)
        kept = [r for r in results.get("serving", {}).get("rows", [])
                if r.get("set") not in args.catalogues]
        results["serving"] = {"rows": kept + rows,
                              "load_avg_1m": [load_before, os.getloadavg()[0]],
                              "threads": f"build: all cores; query: {QUERY_THREADS} thread"}
    results["created_at"] = datetime.now(UTC).isoformat()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
