"""The shop's own policy pages (Markdown, text, HTML) replace or extend the default policy
behind search_knowledge, and the knowledge index is rebuilt from them (real packaged MiniLM)."""

from __future__ import annotations

import duckdb
import pytest

from finetune.knowledge_index import serving_index
from knowledge.cli import import_source, reindex_knowledge
from knowledge.docs import DEFAULT_SOURCE
from knowledge.importers.policy_pages import SHOP_SOURCE, html_text
from tools.registry import ToolContext, get_tool

RETURNS = "# Returns\n\n## Window\n\nYou may return any lamp within 60 days for a full refund.\n"
HTML = ("<html><head><title>Delivery</title><style>p {}</style></head><body><h1>Delivery</h1>"
        "<h2>Abroad</h2><p>We ship to Norway and Iceland by sea freight in 3 weeks.</p>"
        "<ul><li>Tracking by e-mail</li></ul></body></html>")


def write_pages(folder, mode: str = "replace"):
    pages = folder / "pages"
    (pages / "faq").mkdir(parents=True)
    (pages / "returns.md").write_text(RETURNS)
    (pages / "faq" / "delivery.html").write_text(HTML)
    (pages / "notes.txt").write_text("Gift wrapping costs 2 pounds per parcel.\n")
    (pages / "scan.pdf").write_bytes(b"%PDF-1.4 not really")
    (folder / "shop.yaml").write_text(f"currency: GBP\npolicies:\n  folder: pages\n  mode: {mode}\n")
    return pages


def documents(path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT doc_id, title, source FROM documents ORDER BY 1").fetchall()
    finally:
        con.close()


def test_html_headings_become_markdown_headings():
    title, text = html_text(HTML)
    assert title == "Delivery"
    assert text.startswith("# Delivery\n\n## Abroad\n\nWe ship to Norway")
    assert "- Tracking by e-mail" in text and "p {}" not in text


def test_policy_folder_replaces_the_default_pages_and_is_searchable(tmp_path, settings):
    write_pages(tmp_path)
    target = tmp_path / "own.duckdb"
    _, report = import_source(settings, "shop", path=tmp_path, into=target)
    assert documents(target) == [
        ("shop/faq/delivery", "Delivery", SHOP_SOURCE), ("shop/notes", "notes", SHOP_SOURCE),
        ("shop/returns", "Returns", SHOP_SOURCE)]
    assert report.counts["documents"]["rejected"] == 1  # the PDF: pypdf is not installed
    assert [(r["file"], r["reason"]) for r in report.rejects] == [
        (str(tmp_path / "pages" / "scan.pdf"), ("PDF pages need the pypdf package, which is not "
                                               "installed; save the page as text or HTML"))]
    reindex_knowledge(settings, target)
    shop = settings.model_copy(update={"shop": "own", "warehouse_path": target})
    hits = serving_index(shop)[0].search("can I send a lamp back after a month?", k=1)
    assert hits[0][0].doc_id == "shop/returns"
    result = get_tool("search_knowledge").invoke(ToolContext(shop, role="customer"),
                                                 {"query": "do you deliver to Iceland?"})
    assert "Iceland" in str(result)


def test_extend_keeps_the_default_policy_and_a_removed_page_goes(tmp_path, settings):
    pages = write_pages(tmp_path, mode="extend")
    target = tmp_path / "own.duckdb"
    import_source(settings, "shop", path=tmp_path, into=target)
    sources = {s for _, _, s in documents(target)}
    assert sources == {SHOP_SOURCE, DEFAULT_SOURCE}
    (pages / "notes.txt").unlink()
    _, report = import_source(settings, "shop", path=tmp_path, into=target)
    assert "shop/notes" not in {d for d, _, _ in documents(target)}
    assert report.counts["documents"]["updated"] == 1


@pytest.mark.parametrize("setup, problem", [
    (lambda p: None, "policy folder not found"),
    (lambda p: p.mkdir() or (p / "a.md").write_text("  \n"), "no readable .md, .txt or .html page"),
])
def test_an_unusable_policy_folder_is_named(tmp_path, settings, setup, problem):
    from knowledge.importers import DataFileError

    setup(tmp_path / "pages")
    (tmp_path / "shop.yaml").write_text("currency: GBP\npolicies:\n  folder: pages\n")
    with pytest.raises(DataFileError, match=problem):
        import_source(settings, "shop", path=tmp_path, into=tmp_path / "own.duckdb")
