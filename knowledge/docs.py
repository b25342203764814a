"""The knowledge base: policy and FAQ documents, chunked into passages and searched by meaning.

Documents live in the warehouse's ``documents`` table (the source of truth). The default shop
policy is the Markdown files in ``knowledge/policies`` and their Chinese translations in
``knowledge/policies/zh`` (loaded by the synthetic importer, and used for any shop whose
warehouse has no documents); the tau-bench importer adds its own. ``build_knowledge_index``
splits every document at its ``##``/``###`` headings (long sections again at paragraphs, so each
passage fits MiniLM's 256 word pieces), embeds "title - section: text" with the ``text_encoder``
of the settings and saves a FAISS index beside ``passages.jsonl`` under
``artifacts/knowledge/<shop>``. The index records a hash of the documents and its encoder, and
is refused once either differs.
"""

from __future__ import annotations

import hashlib
import re
import threading
from importlib import resources
from pathlib import Path

import duckdb
import typer
from pydantic import BaseModel

from knowledge import warehouse
from knowledge.settings import Settings

DEFAULT_SOURCE = "shopmind default policy"
MAX_WORDS = 130  # ~200 word pieces: MiniLM truncates inputs at 256
HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*$")


class Document(BaseModel):
    doc_id: str
    title: str
    source: str
    text: str


class Passage(BaseModel):
    passage_id: str  # "policy/returns#3"
    doc_id: str
    title: str
    section: str
    source: str
    text: str

    def embedding_text(self) -> str:
        return f"{self.title} - {self.section}: {self.text}"


class KnowledgeIndexError(ValueError):
    """The knowledge index is missing or stale; the message says which command fixes it."""


def default_policy() -> list[Document]:
    """The shop policy shipped with shopmind, one document per Markdown file: the English pages
    (``policy/returns``) and their Chinese translations (``policy/zh/returns``)."""
    folder = resources.files("knowledge").joinpath("policies")
    docs = []
    for pages, prefix in ((folder, "policy/"), (folder.joinpath("zh"), "policy/zh/")):
        for page in sorted(pages.iterdir(), key=lambda p: p.name):
            if not page.name.endswith(".md"):
                continue
            text = page.read_text(encoding="utf-8")
            title = text.splitlines()[0].lstrip("# ").strip()
            docs.append(Document(doc_id=f"{prefix}{page.name[:-3]}", title=title,
                                 source=DEFAULT_SOURCE, text=text))
    return docs


def load_default_policy(con: duckdb.DuckDBPyConnection) -> int:
    """Replace the default-policy rows of ``documents`` (other sources' rows stay)."""
    docs = default_policy()
    con.execute("DELETE FROM documents WHERE source = ?", [DEFAULT_SOURCE])
    con.executemany("INSERT INTO documents (doc_id, title, source, text) VALUES (?, ?, ?, ?)",
                    [[d.doc_id, d.title, d.source, d.text] for d in docs])
    return len(docs)


def read_documents(con: duckdb.DuckDBPyConnection) -> list[Document]:
    rows = con.execute("SELECT doc_id, title, source, text FROM documents ORDER BY doc_id").fetchall()
    return [Document(doc_id=d, title=t, source=s, text=x) for d, t, s, x in rows]


def _split_long(text: str, max_words: int) -> list[str]:
    """Paragraph groups of at most ``max_words`` words (a longer paragraph stays whole)."""
    pieces: list[str] = []
    current: list[str] = []
    for paragraph in re.split(r"\n\s*\n|\n(?=- )", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if current and len(" ".join(current + [paragraph]).split()) > max_words:
            pieces.append("\n".join(current))
            current = []
        current.append(paragraph)
    if current:
        pieces.append("\n".join(current))
    return pieces


def chunk(doc: Document, max_words: int = MAX_WORDS) -> list[Passage]:
    """Passages of one document: a section per heading, long sections split at paragraphs."""
    sections: list[tuple[str, list[str]]] = [(doc.title, [])]
    for line in doc.text.splitlines():
        match = HEADING.match(line)
        if match and len(match.group(1)) > 1:
            sections.append((match.group(2), []))
        elif not (match and match.group(2) == doc.title):
            sections[-1][1].append(line)
    passages = []
    for section, lines in sections:
        for text in _split_long("\n".join(lines).strip(), max_words):
            passages.append(Passage(passage_id=f"{doc.doc_id}#{len(passages)}", doc_id=doc.doc_id,
                                    title=doc.title, section=section, source=doc.source,
                                    text=text))
    return passages


def documents_version(docs: list[Document]) -> str:
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(f"{doc.doc_id}\0{doc.title}\0{doc.source}\0{doc.text}\0".encode())
    return digest.hexdigest()[:16]


def index_dir(settings: Settings) -> Path:
    return settings.artifacts_dir / "knowledge" / settings.shop


def shop_documents(settings: Settings) -> list[Document]:
    """The shop's documents; a shop without any (Online Retail, Taobao) gets the default policy,
    whose passages say so in their source."""
    con = warehouse.connect(settings.warehouse, read_only=True)
    try:
        return read_documents(con) or default_policy()
    finally:
        con.close()


def build_knowledge_index(settings: Settings, progress: bool = False) -> list[Passage]:
    """Chunk and embed every document of the active shop and save the index; returns passages."""
    from knowledge.text_embeddings import embed, text_encoder
    from knowledge.vector_index import VectorIndex

    docs = shop_documents(settings)
    passages = [p for doc in docs for p in chunk(doc)]
    vectors = embed([p.embedding_text() for p in passages], progress=progress,
                    encoder=settings.text_encoder)
    index = VectorIndex.build([p.passage_id for p in passages], vectors, "flat",
                              model=text_encoder(settings.text_encoder).model,
                              data_version=documents_version(docs),
                              max_words=MAX_WORDS)
    folder = index.save(index_dir(settings))
    (folder / "passages.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in passages))
    return passages


def index_is_current(settings: Settings) -> bool:
    """True when a saved index exists and was built from the warehouse's current documents by
    the encoder the settings name."""
    meta = index_dir(settings) / "meta.json"
    if not meta.is_file() or not settings.warehouse.is_file():
        return False
    from knowledge.text_embeddings import text_encoder
    from knowledge.vector_index import IndexMeta

    built = IndexMeta.model_validate_json(meta.read_text())
    return (built.model == text_encoder(settings.text_encoder).model
            and built.data_version == documents_version(shop_documents(settings)))


class KnowledgeBase:
    """A loaded knowledge index: search passages by meaning."""

    def __init__(self, settings: Settings):
        from knowledge.text_embeddings import text_encoder
        from knowledge.vector_index import VectorIndex, VectorIndexError

        folder = index_dir(settings)
        rebuild = f"build it with `shopmind --set shop={settings.shop} index knowledge`"
        if not (folder / "passages.jsonl").is_file():
            raise KnowledgeIndexError(f"no knowledge index for shop {settings.shop!r}; {rebuild}")
        try:
            self.index = VectorIndex.load(folder)
        except VectorIndexError as err:
            raise KnowledgeIndexError(f"{err}; {rebuild}") from err
        self.encoder = text_encoder(settings.text_encoder)
        if self.index.meta.model != self.encoder.model:
            raise KnowledgeIndexError(
                f"the knowledge index was built with {self.index.meta.model}, but text_encoder is "
                f"{self.encoder.key} ({self.encoder.model}), whose vectors cannot be compared "
                f"with it; re{rebuild} (or set text_encoder back)")
        if self.index.meta.data_version != documents_version(shop_documents(settings)):
            raise KnowledgeIndexError(f"the documents changed since the knowledge index was "
                                      f"built; re{rebuild}")
        lines = (folder / "passages.jsonl").read_text().splitlines()
        self.passages = {p.passage_id: p for p in map(Passage.model_validate_json, lines)}

    def search(self, query: str, k: int = 3) -> list[tuple[Passage, float]]:
        from knowledge.text_embeddings import embed

        hits = self.index.search(embed([query], encoder=self.encoder.key, query=True), k)
        return [(self.passages[pid], score) for pid, score in hits]


_BASES: dict[tuple, KnowledgeBase] = {}
_LOCK = threading.Lock()


def knowledge_base(settings: Settings) -> KnowledgeBase:
    """The loaded index of the active shop, reloaded when the index or the warehouse changes."""
    meta = index_dir(settings) / "meta.json"
    key = (settings.text_encoder, *(str(p) + ":" + str(p.stat().st_mtime_ns if p.is_file() else 0)
                                    for p in (meta, settings.warehouse)))
    with _LOCK:
        if key not in _BASES:
            _BASES.clear()
            _BASES[key] = KnowledgeBase(settings)
        return _BASES[key]


def index_knowledge_command(ctx: typer.Context) -> None:
    """Chunk, embed and index the active shop's policy and FAQ documents."""
    from rich.console import Console

    settings: Settings = ctx.obj
    passages = build_knowledge_index(settings, progress=True)
    docs = len({p.doc_id for p in passages})
    Console().print(f"indexed {len(passages)} passages from {docs} documents into {index_dir(settings)}")
