"""Policy retrieval quality: `python bench/knowledge.py`.

68 customer-style questions (bench/data/knowledge_questions.jsonl, written for this benchmark,
not copied from the policy) are labelled with the passage(s) of the default shop policy that
answer them, as (document, section) pairs. Each retriever ranks every passage of the chunked
policy; we report recall@1, recall@3 (an acceptable passage among the top 3) and MRR.
Retrievers: MiniLM + FAISS (what search_knowledge uses), BM25 (rank-bm25 over lower-cased
words without stop words, the baseline) and
their reciprocal-rank fusion. Query latency: median over the questions, warm. Writes
bench/results/knowledge.json.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results
from knowledge.docs import Passage, chunk, default_policy

QUESTIONS = REPO / "bench" / "data" / "knowledge_questions.jsonl"
RESULTS = REPO / "bench" / "results" / "knowledge.json"
RRF_K = 60  # the usual reciprocal-rank-fusion constant


def tokens(text: str) -> list[str]:
    """Lower-case words without English stop words (scikit-learn's list), for BM25."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ENGLISH_STOP_WORDS]


def dense_ranker(passages: list[Passage]):
    from knowledge.text_embeddings import MODEL_NAME, embed
    from knowledge.vector_index import VectorIndex

    ids = [p.passage_id for p in passages]
    index = VectorIndex.build(ids, embed([p.embedding_text() for p in passages]), "flat",
                              model=MODEL_NAME, data_version="bench")
    return lambda question: [pid for pid, _ in index.search(embed([question]), len(ids))]


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


def evaluate(rank, questions: list[dict], section_of: dict[str, tuple[str, str]]) -> dict:
    ranks, times, misses = [], [], []
    for q in questions:
        started = time.perf_counter()
        ranking = rank(q["question"])
        times.append(time.perf_counter() - started)
        wanted = {tuple(e) for e in q["expected"]}
        position = next((i + 1 for i, pid in enumerate(ranking) if section_of[pid] in wanted), None)
        ranks.append(position)
        if position is None or position > 3:
            misses.append({"id": q["id"], "question": q["question"], "rank": position,
                           "top1": list(section_of[ranking[0]])})
    found = [r for r in ranks if r]
    return {
        "recall@1": sum(r == 1 for r in found) / len(ranks),
        "recall@3": sum(r <= 3 for r in found) / len(ranks),
        "mrr": sum(1 / r for r in found) / len(ranks),
        "median_query_ms": 1000 * statistics.median(times),
        "misses": misses,
    }


def main() -> None:
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    passages = [p for doc in default_policy() for p in chunk(doc)]
    section_of = {p.passage_id: (p.doc_id, p.section) for p in passages}
    unknown = {tuple(e) for q in questions for e in q["expected"]} - set(section_of.values())
    if unknown:
        sys.exit(f"labels name sections that the policy does not have: {sorted(unknown)}")
    dense, bm25 = dense_ranker(passages), bm25_ranker(passages)
    dense(questions[0]["question"])  # warm up
    retrievers = {"minilm_faiss": dense, "bm25": bm25, "rrf_minilm_bm25": fused(dense, bm25)}
    results = {name: evaluate(rank, questions, section_of) for name, rank in retrievers.items()}
    table = Table("retriever", "recall@1", "recall@3", "MRR", "median query ms",
                  title=f"{len(questions)} questions, {len(passages)} passages")
    for name, r in results.items():
        table.add_row(name, f"{r['recall@1']:.3f}", f"{r['recall@3']:.3f}", f"{r['mrr']:.3f}",
                      f"{r['median_query_ms']:.1f}")
    Console().print(table)
    write_results(RESULTS, "knowledge retrieval on the default shop policy", questions=len(questions),
                  passages=len(passages), results=results)


if __name__ == "__main__":
    main()
