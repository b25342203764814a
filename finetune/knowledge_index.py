"""The knowledge index as a registered model: slot ``knowledge/<shop>``.

Each build (`shopmind index knowledge`, an import that changed the documents, the `up` stage,
`shopmind retrain`) writes a new version folder, ``artifacts_dir/knowledge/<shop>/knowledge-
<time>/`` (``knowledge.docs.write_index``), registers it with what it was built from (the
documents' digest and ids, the text_encoder setting) and its recall@3 and MRR on the labelled
policy questions (``knowledge/policy_questions.py``, the ones ``bench/knowledge.py`` scores),
and gates it against the serving version: per-question hit@3, each version ranking its own
passages with its own encoder, paired bootstrap over the questions (``finetune/gate.py``,
margin ``gate_recall_margin``). A question counts when it is labelled with a section the
candidate's documents have. With none (a shop whose own pages replace the default policy) there
is nothing to judge on, and the build is promoted unjudged: the serving index was built from
other documents, which no longer are the shop's.

``search_knowledge`` serves the registry's serving version (``serving_index``), querying it with
the encoder it was built with. It refuses when the documents or the text_encoder setting changed
since the newest build (rebuild first), not when the gate refused that build (the serving
version answers meanwhile). An index built before the registry (its files directly in
``knowledge/<shop>/``) serves under the same checks until the first build registers the slot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import typer

from finetune import registry
from knowledge.docs import (
    KnowledgeBase,
    KnowledgeIndexError,
    current_documents_version,
    index_dir,
    knowledge_base,
    rebuild_hint,
    stale_reason,
    write_index,
)
from knowledge.policy_questions import (
    TOP,
    Question,
    first_hit,
    hit,
    labelled_questions,
    ranking_metrics,
)
from knowledge.settings import Settings

INPUTS = ("documents", "encoder")  # what a build is a function of


def new_version() -> str:
    return f"knowledge-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"


def inputs(settings: Settings) -> dict[str, str]:
    """What a build now would be made from: the documents' digest and the text_encoder."""
    return {"documents": current_documents_version(settings), "encoder": settings.text_encoder}


def built_from(version: registry.Version) -> dict[str, str]:
    return {key: version.data_window.get(key) for key in INPUTS}


def newest(entries: registry.Slot) -> registry.Version:
    return max(entries.versions, key=lambda v: v.created_at)


def is_current(settings: Settings) -> bool:
    """True when the newest registered build (served or refused by the gate: the same inputs
    are not built twice) was made from the shop's documents and encoder as they are now."""
    entries = registry.load(settings).slots.get(registry.knowledge_slot(settings.shop))
    if not entries or not entries.versions or not settings.warehouse.is_file():
        return False
    return built_from(newest(entries)) == inputs(settings)


def serving_index(settings: Settings) -> tuple[KnowledgeBase, str | None]:
    """(the index that answers, its registry version; None for one built before the registry).
    KnowledgeIndexError when there is none or the shop's documents or encoder changed since the
    newest build; RegistryError when the gate refused every build or the folder is gone."""
    slot = registry.knowledge_slot(settings.shop)
    entries = registry.load(settings).slots.get(slot)
    hint = rebuild_hint(settings)
    if not entries or not entries.versions:
        folder = index_dir(settings)
        if not (folder / "passages.jsonl").is_file():
            raise KnowledgeIndexError(f"no knowledge index for shop {settings.shop!r}; {hint}")
        base = knowledge_base(folder, hint)
        problem = stale_reason(settings, base.index.meta.model, base.index.meta.data_version)
        if problem:
            raise KnowledgeIndexError(problem)
        return base, None
    folder = registry.serving_folder(settings, slot)
    now, latest = inputs(settings), newest(entries)
    if now not in (built_from(entries.serving), built_from(latest)):
        from knowledge.text_embeddings import text_encoder

        raise KnowledgeIndexError(stale_reason(
            settings, text_encoder(latest.data_window["encoder"]).model,
            latest.data_window["documents"]))
    return knowledge_base(folder, hint), entries.serving.version


def question_ranks(base: KnowledgeBase, questions: list[Question]) -> list[int | None]:
    """The rank of the first answering passage of each question (None: none answers)."""
    rankings = base.rankings([q.question for q in questions])
    return [first_hit([(p.doc_id, p.section) for p in ranking], q.expected)
            for ranking, q in zip(rankings, questions)]


def answerable(base: KnowledgeBase, questions: list[Question]) -> list[Question]:
    """The questions labelled with at least one section of the index's documents."""
    sections = {(p.doc_id, p.section) for p in base.passages.values()}
    return [q for q in questions if any(tuple(e) in sections for e in q.expected)]


def chance_recall(base: KnowledgeBase, questions: list[Question]) -> float:
    """Expected recall@3 of a random ranking of the index's passages."""
    from math import comb

    n, total = len(base.passages), 0.0
    for q in questions:
        wanted = {tuple(e) for e in q.expected}
        m = sum((p.doc_id, p.section) in wanted for p in base.passages.values())
        total += 1 - comb(n - m, TOP) / comb(n, TOP) if n >= TOP else float(m > 0)
    return total / max(len(questions), 1)


def knowledge_gate(settings: Settings, candidate: KnowledgeBase,
                   serving: KnowledgeBase | None):
    """(the gate's verdict on per-question hit@3, the candidate's metrics overall and per
    language). With nothing serving the reference is a random ranking."""
    import numpy as np

    from finetune.gate import GateVerdict, bootstrap_options, metric_gate

    questions = answerable(candidate, labelled_questions())
    if not questions:
        return GateVerdict(promote=True, rows=0, candidate={}, reason=(
            "no labelled question is about these documents: promoted unjudged (the index is a "
            "function of the documents and the encoder)")), {}
    ranks = question_ranks(candidate, questions)
    cand = np.array([hit(r) for r in ranks], float)
    serv = None if serving is None else np.array(
        [hit(r) for r in question_ranks(serving, questions)], float)
    verdict = metric_gate(
        f"recall@{TOP}", len(questions), lambda i: float(cand[i].mean()),
        None if serv is None else (lambda i: float(serv[i].mean())),
        margin=settings.gate_recall_margin, floor=round(chance_recall(candidate, questions), 3),
        **bootstrap_options(settings))
    metrics = {"all": ranking_metrics(ranks)}
    for language in sorted({q.language for q in questions}):
        metrics[language] = ranking_metrics(
            [r for r, q in zip(ranks, questions) if q.language == language])
    return verdict, metrics


@dataclass
class Build:
    version: str
    documents: int
    passages: int
    promoted: bool
    note: str
    gate_seconds: float


def build_knowledge_index(settings: Settings, progress: bool = False) -> Build:
    """Build a new version of the shop's knowledge index, register it, gate it against the
    serving version and promote it if it passes."""
    from finetune.gate import settle
    from knowledge.text_embeddings import text_encoder

    slot, name = registry.knowledge_slot(settings.shop), new_version()
    folder = index_dir(settings) / name
    docs, passages, meta = write_index(settings, folder, progress)
    current = registry.load(settings).slots.get(slot)
    serving = None
    if current is not None and current.serving is not None:
        serving = knowledge_base(registry.artifact_folder(settings, current.serving))
    started = time.perf_counter()
    verdict, metrics = knowledge_gate(settings, KnowledgeBase(folder), serving)
    gate_seconds = time.perf_counter() - started
    encoder = text_encoder(settings.text_encoder)
    registry.register(settings, slot, registry.Version(
        version=name, path=str(folder.relative_to(settings.artifacts_dir)),
        model=f"faiss-{meta.index_type}:{encoder.model}",
        data_window={"documents": meta.data_version, "encoder": encoder.key,
                     "pages": [d.doc_id for d in docs], "passages": len(passages)},
        metrics={"test": metrics} if metrics else {}, created_at=meta.created_at))
    promoted = settle(settings, slot, name, [verdict])
    note = registry.load(settings).slot(slot).get(name).note
    return Build(name, len(docs), len(passages), promoted, note, gate_seconds)


def index_knowledge_command(ctx: typer.Context) -> None:
    """Chunk, embed and index the active shop's policy and FAQ documents into a new version of
    knowledge/<shop>, gate it on the labelled policy questions (recall@3 against the serving
    version) and promote it if it passes (docs/models.md)."""
    from rich.console import Console

    settings: Settings = ctx.obj
    built = build_knowledge_index(settings, progress=True)
    console = Console()
    console.print(f"indexed {built.passages} passages from {built.documents} documents into "
                  f"{index_dir(settings) / built.version}")
    console.print(f"{built.version}: {'serving' if built.promoted else 'candidate'}; {built.note}")
