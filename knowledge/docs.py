"""The knowledge base: policy and FAQ documents, chunked into passages and searched by meaning.

Documents live in the warehouse's ``documents`` table (the source of truth). The default shop
policy is the Markdown files in ``knowledge/policies`` and their Chinese translations in
``knowledge/policies/zh`` (loaded by the synthetic importer, and used for any shop whose
warehouse has no documents); the tau-bench importer adds its own. ``write_index`` splits every
document at its ``##``/``###`` headings (long sections again at paragraphs, so each passage fits
MiniLM's 256 word pieces), embeds "title - section: text" with the ``text_encoder`` of the
settings and saves a FAISS index beside ``passages.jsonl`` in a folder. The index records a
hash of the documents and its encoder. Which folder serves, and when a build replaces it, is
the model registry's business (slot ``knowledge/<shop>``, ``finetune/knowledge_index.py``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from pydantic import BaseModel

from knowledge import warehouse
from knowledge.artifacts import replaced
from knowledge.settings import Settings

if TYPE_CHECKING:  # faiss loads with vector_index: only when an index is built or read
    from knowledge.vector_index import IndexMeta

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
    """The shop's knowledge folder: one subfolder per build (``knowledge-<time>/``; the registry
    slot ``knowledge/<shop>`` says which serves); an index built before the registry lies
    directly in it."""
    return settings.artifacts_dir / "knowledge" / settings.shop


def rebuild_hint(settings: Settings) -> str:
    return f"build it with `shopmind --set shop={settings.shop} index knowledge`"


def shop_documents(settings: Settings) -> list[Document]:
    """The shop's documents; a shop without any (Online Retail, Taobao) gets the default policy,
    whose passages say so in their source."""
    con = warehouse.open_shared(settings.warehouse)
    try:
        return read_documents(con) or default_policy()
    finally:
        con.close()


@lru_cache(maxsize=8)
def _documents_version(path: str, _mtime: int) -> str:
    con = warehouse.open_shared(Path(path))
    try:
        return documents_version(read_documents(con) or default_policy())
    finally:
        con.close()


def current_documents_version(settings: Settings) -> str:
    """The digest of ``shop_documents``, read once per state of the warehouse file."""
    path = settings.warehouse
    if not path.is_file():
        return documents_version(shop_documents(settings))  # says the warehouse is missing
    return _documents_version(str(path), path.stat().st_mtime_ns)


def write_index(settings: Settings, folder: Path, progress: bool = False,
                ) -> tuple[list[Document], list[Passage], IndexMeta]:
    """Chunk and embed every document of the active shop with the settings' ``text_encoder``
    and save the index in ``folder`` (swapped in complete); returns the documents, the passages
    and the index's meta."""
    from knowledge.text_embeddings import embed, text_encoder
    from knowledge.vector_index import VectorIndex

    docs = shop_documents(settings)
    passages = [p for doc in docs for p in chunk(doc)]
    vectors = embed([p.embedding_text() for p in passages], progress=progress,
                    encoder=settings.text_encoder)
    index = VectorIndex.build([p.passage_id for p in passages], vectors, "flat",
                              model=text_encoder(settings.text_encoder).model,
                              data_version=documents_version(docs), max_words=MAX_WORDS)
    with replaced(folder) as tmp:
        index.save(tmp)
        (tmp / "passages.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in passages))
    return docs, passages, index.meta


def stale_reason(settings: Settings, model: str, data_version: str) -> str | None:
    """Why an index built by the encoder ``model`` from the documents ``data_version`` no longer
    fits the shop (text_encoder names another encoder, the documents changed); None if it fits."""
    from knowledge.text_embeddings import text_encoder

    encoder, hint = text_encoder(settings.text_encoder), rebuild_hint(settings)
    if model != encoder.model:
        return (f"the knowledge index was built with {model}, but text_encoder is {encoder.key} "
                f"({encoder.model}), whose vectors cannot be compared with it; re{hint} (or set "
                "text_encoder back)")
    if data_version != current_documents_version(settings):
        return f"the documents changed since the knowledge index was built; re{hint}"
    return None


class KnowledgeBase:
    """One saved knowledge index (a folder): search its passages by meaning, with the encoder it
    was built with."""

    def __init__(self, folder: Path, hint: str = "build it with `shopmind index knowledge`"):
        from knowledge.text_embeddings import text_encoder
        from knowledge.vector_index import VectorIndex, VectorIndexError

        self.folder = Path(folder)
        if not (self.folder / "passages.jsonl").is_file():
            raise KnowledgeIndexError(f"no knowledge index in {self.folder}; {hint}")
        try:
            self.index = VectorIndex.load(self.folder)
        except VectorIndexError as err:
            raise KnowledgeIndexError(f"{err}; {hint}") from err
        self.encoder = text_encoder(self.index.meta.model)
        lines = (self.folder / "passages.jsonl").read_text().splitlines()
        self.passages = {p.passage_id: p for p in map(Passage.model_validate_json, lines)}

    def search(self, query: str, k: int = 3) -> list[tuple[Passage, float]]:
        from knowledge.text_embeddings import embed

        hits = self.index.search(embed([query], encoder=self.encoder.key, query=True), k)
        return [(self.passages[pid], score) for pid, score in hits]

    def rankings(self, queries: list[str]) -> list[list[Passage]]:
        """Every passage, best first, for each query (the queries in one batch)."""
        from knowledge.text_embeddings import embed

        vectors = embed(queries, encoder=self.encoder.key, query=True)
        _, rows = self.index.search_rows(vectors, self.index.meta.count)
        return [[self.passages[self.index.ids[r]] for r in row if r >= 0] for row in rows]


_BASES: dict[tuple, KnowledgeBase] = {}
_LOCK = threading.Lock()


def knowledge_base(folder: Path, hint: str = "build it with `shopmind index knowledge`",
                   ) -> KnowledgeBase:
    """The index in ``folder``, loaded once per build (a build writes a new meta.json)."""
    meta = Path(folder) / "meta.json"
    key = (str(folder), meta.stat().st_mtime_ns if meta.is_file() else 0)
    with _LOCK:
        if key not in _BASES:
            if len(_BASES) >= 4:
                _BASES.clear()
            _BASES[key] = KnowledgeBase(folder, hint)
        return _BASES[key]
