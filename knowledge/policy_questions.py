"""The labelled policy questions and how a ranking of passages is scored on them: one
implementation for `bench/knowledge.py` and the knowledge index's promotion gate
(`finetune/knowledge_index.py`).

68 English and 57 Chinese customer-style questions (``knowledge/policies/questions.jsonl`` and
``knowledge/policies/zh/questions.jsonl``, beside the pages they are about), written for the
benchmark, not copied from the policy, each labelled with the (document, section) pairs of the
default shop policy that answer it. They ship with the package because their labels name the
pages' headings: a heading renamed in a page must be renamed in its questions too (the
benchmark refuses labels that name no section), and the gate must work from an installed
project, where ``bench/`` is not.
"""

from __future__ import annotations

import json
from importlib import resources

from pydantic import BaseModel

FILES = {"en": ("policies", "questions.jsonl"), "zh": ("policies", "zh", "questions.jsonl")}
TOP = 3  # recall@3: an acceptable passage among the three that search_knowledge returns

Section = tuple[str, str]  # (doc_id, section heading)


class Question(BaseModel):
    id: str
    question: str
    expected: list[Section]
    language: str = "en"


def labelled_questions() -> list[Question]:
    """Every labelled question, English first."""
    out = []
    for language, parts in FILES.items():
        text = resources.files("knowledge").joinpath(*parts).read_text(encoding="utf-8")
        out += [Question(**json.loads(line), language=language)
                for line in text.splitlines() if line.strip()]
    return out


def first_hit(ranking: list[Section], expected: list[Section]) -> int | None:
    """The 1-based rank of the first passage whose section answers, None if none does."""
    wanted = set(map(tuple, expected))
    return next((i + 1 for i, section in enumerate(ranking) if tuple(section) in wanted), None)


def hit(rank: int | None, k: int = TOP) -> bool:
    return rank is not None and rank <= k


def ranking_metrics(ranks: list[int | None]) -> dict[str, float]:
    """recall@1, recall@3 and MRR of the first-hit ranks of a set of questions."""
    n = max(len(ranks), 1)
    return {"recall@1": sum(hit(r, 1) for r in ranks) / n,
            "recall@3": sum(hit(r) for r in ranks) / n,
            "mrr": sum(1 / r for r in ranks if r) / n,
            "questions": len(ranks)}
