"""The shop's own policy and FAQ pages (a folder of Markdown, plain text or HTML) as
``documents`` rows, replacing or extending shopmind's default policy behind search_knowledge.
HTML headings become Markdown headings so that passages split at them as they do for Markdown.
PDF needs the ``pypdf`` package; without it a PDF page is rejected with that reason.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import duckdb

from knowledge.docs import DEFAULT_SOURCE, Document, load_default_policy
from knowledge.importers.base import DataFileError
from knowledge.importers.upsert import Counts, upsert

SHOP_SOURCE = "shop policy pages"
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm"}


class _HtmlText(HTMLParser):
    """Visible text of an HTML page; h1-h3 become #-headings, block ends become line breaks."""

    BLOCKS: ClassVar[set[str]] = {"p", "div", "li", "br", "tr", "section", "article", "ul", "ol",
                                  "table"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0
        self.title = ""
        self.in_title = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "title":
            self.in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * min(int(tag[1]), 3) + " ")
        elif tag == "li":
            self.parts.append("\n- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag == "title":
            self.in_title = False
        elif re.fullmatch(r"h[1-6]", tag) or tag in self.BLOCKS:
            self.parts.append("\n\n" if tag != "li" else "")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        elif not self.skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML page."""
    parser = _HtmlText()
    parser.feed(html)
    text = re.sub(r"\n[ \t]+", "\n", "".join(parser.parts))
    return parser.title.strip(), re.sub(r"\n{3,}", "\n\n", text).strip()


def _pdf_text(path: Path) -> str:
    try:
        from pypdf import PdfReader
    except ImportError as err:
        raise DataFileError(path, "PDF pages need the pypdf package, which is not installed; "
                                  "save the page as text or HTML") from err
    return "\n\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def read_page(path: Path, folder: Path) -> Document:
    """One page as a document: its id is its path in the folder, its title the first heading
    (HTML: <title>), else the file name."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text, title = _pdf_text(path), ""
    else:
        try:
            raw = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise DataFileError(path, "not UTF-8 text") from err
        title, text = html_text(raw) if suffix in HTML_SUFFIXES else ("", raw)
    if not text.strip():
        raise DataFileError(path, "the page is empty")
    heading = re.search(r"^#\s+(.+?)\s*$", text, re.MULTILINE)
    title = title or (heading.group(1) if heading else path.stem.replace("_", " ").replace("-", " "))
    doc_id = "shop/" + path.relative_to(folder).with_suffix("").as_posix()
    return Document(doc_id=doc_id, title=title, source=SHOP_SOURCE, text=text)


def read_folder(folder: Path) -> tuple[list[Document], list[dict]]:
    """Every page of the folder (sub-folders too), and a reject per page that cannot be read."""
    if not folder.is_dir():
        raise DataFileError(folder, "policy folder not found")
    docs, rejects = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() not in TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf"}:
            continue
        try:
            docs.append(read_page(path, folder))
        except DataFileError as err:
            rejects.append({"file": str(path), "line": 0, "column": "", "reason": err.problem,
                            "value": None})
    if not docs:
        raise DataFileError(folder, "no readable .md, .txt or .html page in the policy folder")
    return docs, rejects


def merge_pages(con: duckdb.DuckDBPyConnection, docs: list[Document], mode: str) -> Counts:
    """The folder's pages become the shop's pages (pages gone from the folder are removed);
    ``replace`` also removes the default policy, ``extend`` keeps (or restores) it."""
    con.execute("CREATE OR REPLACE TEMP TABLE _pages (doc_id VARCHAR, title VARCHAR, "
                "source VARCHAR, text VARCHAR)")
    con.executemany("INSERT INTO _pages VALUES (?, ?, ?, ?)",
                    [[d.doc_id, d.title, d.source, d.text] for d in docs])
    gone = con.execute("DELETE FROM documents WHERE source = ? AND doc_id NOT IN "
                       "(SELECT doc_id FROM _pages)", [SHOP_SOURCE]).fetchone()[0]
    counts = upsert(con, "documents", "SELECT * FROM _pages", ["doc_id"],
                    ["title", "source", "text"])
    con.execute("DROP TABLE _pages")
    defaults = con.execute("SELECT count(*) FROM documents WHERE source = ?",
                           [DEFAULT_SOURCE]).fetchone()[0]
    if mode == "replace" and defaults:
        con.execute("DELETE FROM documents WHERE source = ?", [DEFAULT_SOURCE])
        counts.updated += defaults
    elif mode == "extend" and not defaults:
        counts.inserted += load_default_policy(con)
    counts.updated += gone
    counts.read = len(docs)
    return counts
