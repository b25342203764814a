"""The policy knowledge base: documents, chunking, the index build and search_knowledge on the
default policy (English pages and their Chinese translations) with the real packaged MiniLM
(built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune.knowledge_index import build_knowledge_index
from finetune.knowledge_index import is_current as index_is_current
from knowledge import warehouse
from knowledge.docs import (
    DEFAULT_SOURCE,
    MAX_WORDS,
    Document,
    chunk,
    default_policy,
    load_default_policy,
    read_documents,
    shop_documents,
)
from knowledge.settings import Settings
from tools.registry import ToolContext, ToolError, get_tool


def policy_warehouse(path: Path) -> Path:
    with warehouse.atomic_update(path) as con:
        load_default_policy(con)
    return path


@pytest.fixture(scope="session")
def policy_shop(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse holding only the default policy, with its knowledge index built."""
    root = tmp_path_factory.mktemp("policy_shop")
    settings = Settings(warehouse_path=policy_warehouse(root / "shop.duckdb"),
                        artifacts_dir=root / "artifacts")
    build_knowledge_index(settings)
    return settings


def search(settings: Settings, role: str = "operator", **arguments) -> dict:
    return get_tool("search_knowledge").invoke(ToolContext(settings, role=role), arguments)


def test_default_policy_covers_the_required_topics():
    ids = {d.doc_id for d in default_policy()}
    pages = {"shipping", "returns", "cancellations", "payments", "privacy", "faq"}
    assert ids == {f"policy/{p}" for p in pages} | {f"policy/zh/{p}" for p in pages}
    assert all(d.source == DEFAULT_SOURCE and d.title and "##" in d.text for d in default_policy())


def test_every_chinese_page_keeps_the_sections_of_its_english_page():
    docs = {d.doc_id: d for d in default_policy()}
    for doc_id, doc in docs.items():
        if doc_id.startswith("policy/zh/"):
            english = docs["policy/" + doc_id.removeprefix("policy/zh/")]
            assert len(chunk(doc)) == len(chunk(english)), doc_id
            assert doc.text.count("\n## ") == english.text.count("\n## "), doc_id


def test_chunks_follow_headings_and_stay_short():
    passages = [p for doc in default_policy() for p in chunk(doc)]
    assert len({p.passage_id for p in passages}) == len(passages)
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    sections = {(p.doc_id, p.section) for p in passages}
    assert ("policy/returns", "Return window") in sections
    assert ("policy/faq", "Is there a warranty?") in sections


def test_a_long_section_is_split_at_paragraphs():
    paragraph = " ".join(["word"] * 50)
    doc = Document(doc_id="d", title="T", source="s",
                   text="# T\n\n## Long\n\n" + "\n\n".join([paragraph] * 5) + "\n\n## Short\n\nhi")
    passages = chunk(doc, max_words=120)
    assert [p.section for p in passages] == ["Long", "Long", "Long", "Short"]
    assert [len(p.text.split()) for p in passages] == [100, 100, 50, 1]


def test_reloading_the_default_policy_keeps_other_sources(tmp_path):
    path = policy_warehouse(tmp_path / "w.duckdb")
    with warehouse.atomic_update(path) as con:
        con.execute("INSERT INTO documents VALUES ('tau/policy', 'Agent policy', 'tau', 'text')")
        load_default_policy(con)
        docs = read_documents(con)
    assert len(docs) == len(default_policy()) + 1


@pytest.mark.slow
@pytest.mark.parametrize(("question", "doc_id", "section"), [
    ("how long do I have to send something back?", "policy/returns", "Return window"),
    ("can I still cancel my order, I placed it yesterday", "policy/cancellations",
     "When an order can be cancelled"),
    ("do you deliver to Australia?", "policy/shipping", "Where we ship"),
    ("can I pay with two cards for one order", "policy/payments", "Accepted payment methods"),
    ("how do I stop getting your promotional emails", "policy/privacy", "Marketing emails"),
])
def test_search_knowledge_finds_the_right_passage(policy_shop, question, doc_id, section):
    passages = search(policy_shop, role="customer", query=question)["passages"]
    assert len(passages) == 3
    assert (doc_id, section) in [(p["doc_id"], p["section"]) for p in passages]
    assert passages[0]["source"] == DEFAULT_SOURCE and passages[0]["text"]
    headline = search(policy_shop, role="customer", query=question)["headline"]
    assert headline.startswith(f"{passages[0]['title']}, {passages[0]['section']}: ")


@pytest.mark.slow
def test_index_stage_is_done_only_while_documents_are_unchanged(policy_shop, tmp_path):
    assert index_is_current(policy_shop)
    changed = Settings(warehouse_path=tmp_path / "w.duckdb", artifacts_dir=policy_shop.artifacts_dir)
    policy_warehouse(changed.warehouse)
    with warehouse.atomic_update(changed.warehouse) as con:
        con.execute("UPDATE documents SET text = text || ' New rule.' WHERE doc_id = 'policy/faq'")
    assert not index_is_current(changed)
    with pytest.raises(ToolError, match="documents changed .* index knowledge"):
        search(changed, query="returns")


@pytest.mark.parametrize(("arguments", "problem"), [
    ({"query": "  "}, "query is empty"),
    ({"query": "returns", "k": 0}, "greater than or equal to 1"),
    ({"query": "returns", "k": 11}, "less than or equal to 10"),
    ({"k": 3}, "query"),
])
def test_bad_search_arguments_are_tool_errors(tmp_path, arguments, problem):
    settings = Settings(warehouse_path=tmp_path / "w.duckdb", artifacts_dir=tmp_path)
    with pytest.raises(ToolError, match=problem):
        search(settings, **arguments)


def test_missing_index_says_how_to_build_it(tmp_path):
    settings = Settings(warehouse_path=policy_warehouse(tmp_path / "w.duckdb"),
                        artifacts_dir=tmp_path / "artifacts")
    assert not index_is_current(settings)
    with pytest.raises(ToolError, match="no knowledge index .* index knowledge"):
        search(settings, query="returns")


def test_the_synthetic_importer_loads_the_default_policy(small_shop):
    con = warehouse.connect(small_shop.warehouse)
    try:
        docs = read_documents(con)
    finally:
        con.close()
    assert docs == default_policy()


def test_a_shop_without_documents_is_indexed_with_the_default_policy(tmp_path):
    empty = tmp_path / "w.duckdb"
    with warehouse.atomic_update(empty):
        pass
    assert shop_documents(Settings(warehouse_path=empty)) == default_policy()


@pytest.mark.slow
def test_cli_search_knowledge_prints_passages_with_their_source(policy_shop):
    from typer.testing import CliRunner

    from assistant.cli import app

    overrides = ["--set", f"warehouse_path={policy_shop.warehouse}",
                 "--set", f"artifacts_dir={policy_shop.artifacts_dir}"]
    result = CliRunner().invoke(app, [*overrides, "search-knowledge", "do you take amex?", "--k", "1"])
    assert result.exit_code == 0, result.output
    assert "Accepted payment methods (policy/payments" in " ".join(result.output.split())
    result = CliRunner().invoke(app, [*overrides, "search-knowledge", "returns", "--k", "50"])
    assert result.exit_code == 2 and "less than or equal to 10" in " ".join(result.output.split())
