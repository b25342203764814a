"""Train every recommendation component on a shop's warehouse, tune the hybrid's weights on the
last `valid_days` of history, refit on everything and save a new version to
artifacts/recommend/<shop>/<version>/; then register it, gate it against the serving version and
promote it if it passes (`promotion`). The held-out metrics and the gate use the held-out twin:
the components fitted before the validation cutoff, with weights tuned on half of the
validation users only; the other half is held out (`promotion.held_out`)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import numpy as np
from rich.console import Console

from finetune.recommend.als import ALS
from finetune.recommend.artifacts import RecommendMeta, new_version
from finetune.recommend.base import Scorer
from finetune.recommend.data import DAY, load_events, train_data
from finetune.recommend.evaluate import PROTOCOLS, EvalSet, Split, evaluate, temporal_split
from finetune.recommend.hybrid import Hybrid
from finetune.recommend.itemknn import ItemKNN
from finetune.recommend.popularity import Popularity
from finetune.recommend.promotion import held_out, register_and_gate
from finetune.recommend.repeat import Repeat
from finetune.recommend.sasrec import SASRec
from finetune.recommend.text import Encoder, TextSimilarity
from knowledge import warehouse
from knowledge.artifacts import replaced, write_meta
from knowledge.product_index import current_product_index, data_version, recommend_dir
from knowledge.settings import Settings

ALS_ALPHAS = (1.0, 10.0)
console = Console()


def make_components(half_life_days: float, sasrec_seconds: float, encoder: Encoder | None,
                    seed: int, als_alpha: float = 1.0, sasrec_epochs: int = 30) -> list[Scorer]:
    """One of each model; the text model only when the shop has product titles."""
    models: list[Scorer] = [
        Popularity(half_life_days), Repeat(half_life_days), ItemKNN(half_life_days=half_life_days),
        ALS(alpha=als_alpha, seed=seed), SASRec(epochs=sasrec_epochs, max_seconds=sasrec_seconds, seed=seed),
    ]
    if encoder is not None:
        models.insert(4, TextSimilarity(half_life_days, encoder))
    return models


def tune_als_alpha(split: Split, seed: int) -> float:
    """The ALS confidence scale with the best validation NDCG@10 (summed over protocols):
    dense purchase logs (Online Retail) want a small alpha, sparse view logs (Taobao) a large one."""

    def quality(alpha: float) -> float:
        model = ALS(alpha=alpha, seed=seed).fit(split.train)
        return sum(evaluate(model.score, split.eval[p], p, split.train.n_items)["ndcg@10"]
                   for p in PROTOCOLS if split.eval[p].histories)

    return max(ALS_ALPHAS, key=quality)


def lookup_encoder(texts: list[str], vectors: np.ndarray) -> Encoder:
    """An encoder that returns already computed product vectors (no second MiniLM pass)."""
    row = {text: i for i, text in enumerate(texts)}
    dim = vectors.shape[1]
    return lambda batch: np.stack([vectors[row[t]] if t in row else np.zeros(dim, np.float32)
                                   for t in batch])


def halves(eval_sets: dict[str, EvalSet]) -> tuple[dict[str, EvalSet], dict[str, EvalSet]]:
    """(tuning users, held-out users) of each protocol."""
    return ({p: s.subset([not held_out(u) for u in s.users]) for p, s in eval_sets.items()},
            {p: s.subset([held_out(u) for u in s.users]) for p, s in eval_sets.items()})


def train_recommender(settings: Settings, valid_days: float | None = None,
                      sasrec_seconds: float = 180.0, sasrec_epochs: int = 30) -> RecommendMeta:
    con = warehouse.connect(settings.warehouse)
    try:
        events = load_events(con)
        version = data_version(con)
    finally:
        con.close()
    if events.empty:
        raise ValueError(f"{settings.warehouse} has no events to learn recommendations from")
    index, texts = current_product_index(settings)
    text_of = dict(zip(index.ids, texts))
    has_text = any(t.strip() for t in texts)
    encoder = lookup_encoder(texts, index.index.reconstruct_n(0, index.meta.count)) \
        if has_text and index.meta.index_type == "flat" else None
    span_days = (events["ts"].max() - events["ts"].min()) / DAY
    valid_days = valid_days or max(1.0, round(span_days / 12))
    half_life = max(1.0, span_days / 8)
    end = float(events["ts"].max())

    console.print(f"validation: last {valid_days:g} days; tuning hybrid weights")
    cutoff = end - valid_days * DAY
    split = temporal_split(events, cutoff, texts=text_of)
    alpha = tune_als_alpha(split, settings.seed)
    components = [m.fit(split.train) for m in
                  make_components(half_life, sasrec_seconds, encoder, settings.seed, alpha,
                                  sasrec_epochs)]
    hybrid = Hybrid(components)
    tune, test = halves(split.eval)
    weights, twin, validation, heldout = {}, {}, {}, {}
    for protocol in PROTOCOLS:
        n_items = split.train.n_items
        if tune[protocol].histories:  # the held-out twin: tuned without the held-out users
            twin[protocol] = hybrid.tune(tune[protocol], protocol)
            if test[protocol].histories:
                heldout[protocol] = evaluate(hybrid.score, test[protocol], protocol, n_items)
        if not split.eval[protocol].histories:
            weights[protocol] = dict(hybrid.weights)
            continue
        weights[protocol] = hybrid.tune(split.eval[protocol], protocol)  # served: every user
        validation[protocol] = evaluate(hybrid.score, split.eval[protocol], protocol, n_items)

    console.print("refitting every component on the full history")
    full = train_data(events, texts=None)
    full.texts = [text_of.get(item, "") for item in full.items]
    models = make_components(half_life, sasrec_seconds, encoder, settings.seed, alpha,
                             sasrec_epochs)
    name = new_version()
    folder = recommend_dir(settings) / name
    # built beside and renamed into place when complete, with a copy of the text index
    with replaced(folder) as staging:
        staging.mkdir()
        for model in models:
            model.fit(full)
            model.save(staging / model.name)
        if (recommend_dir(settings) / "text_index").is_dir():
            shutil.copytree(recommend_dir(settings) / "text_index", staging / "text_index")
        (staging / "items.json").write_text(json.dumps(full.items))
        meta = RecommendMeta(
            version=name, shop=settings.shop, data_version=version,
            trained_until=datetime.fromtimestamp(end, UTC).isoformat(),
            items=full.n_items, users=len(full.histories), events=len(events),
            valid_days=valid_days, als_alpha=alpha, components=[m.name for m in models],
            weights=weights, validation=validation, heldout=heldout,
        )
        write_meta(staging, meta)
    register_and_gate(settings, meta, folder, events, cutoff,
                      (lambda p: Hybrid(components, twin.get(p)).score, split.train.items))
    return meta
