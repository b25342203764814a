"""The knowledge index as a registry model (slot ``knowledge/<shop>``): each build is a version
gated on the labelled policy questions (recall@3), search_knowledge serves the registry's
serving version, promote and rollback reach it, an index built before the registry still
serves. Real MiniLM on three English policy pages (21 passages, 37 labelled questions)."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest
from typer.testing import CliRunner

from finetune import registry
from finetune.knowledge_index import build_knowledge_index, is_current, knowledge_gate
from finetune.retrain import retrain
from knowledge import text_embeddings, warehouse
from knowledge.docs import Document, KnowledgeBase, default_policy, index_dir, write_index
from knowledge.settings import Settings
from tools.registry import ToolContext, ToolError, get_tool

PAGES = ("policy/returns", "policy/shipping", "policy/cancellations")
SLOT = "knowledge/three"
QUESTION = "how long do I have to send something back?"


def write_documents(settings: Settings, docs: list[Document]) -> None:
    with warehouse.atomic_update(settings.warehouse) as con:
        con.execute("DELETE FROM documents")
        con.executemany("INSERT INTO documents VALUES (?, ?, ?, ?)",
                        [[d.doc_id, d.title, d.source, d.text] for d in docs])


def shuffled(docs: list[Document]) -> list[Document]:
    """The same pages and headings, each section's text moved under another heading."""
    parts = [re.split(r"(?m)^(## .*)$", d.text) for d in docs]  # intro, heading, text, ...
    texts = [t for p in parts for t in p[2::2]]
    texts = iter(texts[len(texts) // 2:] + texts[:len(texts) // 2])
    return [d.model_copy(update={"text": p[0] + "".join(h + next(texts) for h in p[1::2])})
            for d, p in zip(docs, parts)]


def three_pages(tmp_path, **options) -> Settings:
    settings = Settings(warehouse_path=tmp_path / "three.duckdb", shop="three",
                        artifacts_dir=tmp_path / "artifacts", gate_bootstrap=300, **options)
    write_documents(settings, [d for d in default_policy() if d.doc_id in PAGES])
    return settings


def search(settings: Settings, query: str = QUESTION) -> dict:
    return get_tool("search_knowledge").invoke(ToolContext(settings, role="customer"),
                                               {"query": query})


def found(result: dict) -> list[tuple[str, str]]:
    return [(p["doc_id"], p["section"]) for p in result["passages"]]


def fake_embed(texts, batch_size=64, progress=False, *, encoder=None, query=False):
    """Unit vectors from a checksum of each text (the same in every run): no model loaded."""
    rows = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=384) for t in texts]
    vectors = np.array(rows, dtype=np.float32).reshape(len(texts), 384)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.slow
def test_a_shuffled_rebuild_is_refused_the_serving_index_answers_and_rollback_restores(tmp_path):
    from assistant.cli import app

    shop = three_pages(tmp_path)
    first = build_knowledge_index(shop)
    entry = registry.load(shop).slot(SLOT).get(first.version)
    assert first.promoted and entry.status == "serving" and "first version passed" in entry.note
    assert entry.data_window["encoder"] == "by-language" and entry.data_window["pages"] == sorted(PAGES)
    assert entry.metrics["test"]["en"]["questions"] == 37
    assert entry.metrics["test"]["all"]["recall@3"] > 0.9
    result = search(shop)
    assert result["index"] == {"version": first.version, "encoder": "by-language"}
    assert ("policy/returns", "Return window") in found(result)
    assert is_current(shop) and "skipped" in retrain(shop, stages=("knowledge",))[0]

    write_documents(shop, shuffled([d for d in default_policy() if d.doc_id in PAGES]))
    assert not is_current(shop)
    (line,) = retrain(shop, stages=("knowledge",))  # the documents changed: rebuilt and gated
    candidate = max(registry.load(shop).slot(SLOT).versions, key=lambda v: v.created_at)
    assert line.startswith(f"{SLOT}: {candidate.version} stays a candidate"), line
    assert candidate.status == "candidate" and "refused: recall@3 worse" in candidate.note
    assert candidate.metrics["test"]["all"]["recall@3"] < 0.6
    result = search(shop)  # the serving version keeps answering, from the pages it indexed
    assert result["index"]["version"] == first.version
    assert ("policy/returns", "Return window") in found(result)
    assert "skipped" in retrain(shop, stages=("knowledge",))[0]  # a refused build counts

    cli = ["--set", f"artifacts_dir={shop.artifacts_dir}", "models"]
    listed = CliRunner().invoke(app, [*cli, "list", "--slot", "knowledge/"]).output
    assert "recall@3" in listed and "serving" in listed and "candidate" in listed
    assert CliRunner().invoke(app, [*cli, "promote", candidate.version]).exit_code == 0
    assert search(shop)["index"]["version"] == candidate.version
    result = CliRunner().invoke(app, [*cli, "rollback", SLOT])
    assert result.exit_code == 0 and f"{first.version} is serving again" in result.output
    assert search(shop)["index"]["version"] == first.version
    result = CliRunner().invoke(app, [*cli, "rollback", "knowledge/nowhere"])
    assert result.exit_code == 2
    assert "unknown model slot 'knowledge/nowhere'; known: knowledge/three" in result.output


BUILT_BY_DEFAULT = "built with all-MiniLM-L6-v2.multilingual-e5-small-q4, but text_encoder is"


def test_an_index_built_before_the_registry_serves_until_the_first_build(tmp_path, monkeypatch):
    monkeypatch.setattr(text_embeddings, "embed", fake_embed)
    shop = three_pages(tmp_path)
    write_index(shop, index_dir(shop))  # the layout before the registry: files in knowledge/<shop>
    assert search(shop)["index"]["version"] == "unregistered" and not is_current(shop)
    e5 = shop.model_copy(update={"text_encoder": "multilingual-e5-small"})
    with pytest.raises(ToolError, match=BUILT_BY_DEFAULT):
        search(e5)
    built = build_knowledge_index(shop)
    assert search(shop)["index"]["version"] == built.version and is_current(shop)
    with pytest.raises(ToolError, match=BUILT_BY_DEFAULT):
        search(e5)  # a changed setting needs a build, as before


def test_documents_no_labelled_question_is_about_are_promoted_unjudged(tmp_path, monkeypatch):
    monkeypatch.setattr(text_embeddings, "embed", fake_embed)
    shop = three_pages(tmp_path)
    build_knowledge_index(shop)
    own = Document(doc_id="shop/returns", title="Returns", source="shop",
                   text="# Returns\n\n## Window\n\nLamps come back within 60 days.\n")
    write_documents(shop, [own])  # the shop's own page replaces the default policy
    write_index(shop, tmp_path / "own")
    verdict, metrics = knowledge_gate(shop, KnowledgeBase(tmp_path / "own"), None)
    assert verdict.promote and "no labelled question is about these documents" in verdict.reason
    assert metrics == {}
    built = build_knowledge_index(shop)  # against a serving index of the default pages
    assert built.promoted and "promoted unjudged" in built.note
    assert search(shop)["index"]["version"] == built.version
