"""The product search index: every product's "title. description" embedded with the settings'
text_encoder into a VectorIndex under artifacts/recommend/<shop>/text_index. Built by
`shopmind index build`; rebuilt when the catalogue or the encoder changes."""

from __future__ import annotations

from pathlib import Path

import typer

from knowledge import warehouse
from knowledge.settings import Settings

EXACT_UP_TO = 100_000  # above this many products "auto" picks HNSW instead of exact search


def recommend_dir(settings: Settings, shop: str | None = None) -> Path:
    return settings.artifacts_dir / "recommend" / (shop or settings.shop)


def index_dir(settings: Settings, shop: str | None = None) -> Path:
    return recommend_dir(settings, shop) / "text_index"


def data_version(con) -> str:
    """The latest import and the size of what it wrote: changes whenever the data does."""
    source, at = con.execute(
        "SELECT source, max(imported_at) FROM imports GROUP BY source ORDER BY 2 DESC LIMIT 1"
    ).fetchone() or ("none", None)
    events, products = con.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM products)").fetchone()
    return f"{source}@{at}:events={events}:products={products}"


def product_texts(con) -> tuple[list[str], list[str]]:
    """(product ids, 'title. description') for the whole catalogue, ordered by id."""
    rows = con.execute(
        "SELECT product_id, title, coalesce(description, '') FROM products ORDER BY product_id"
    ).fetchall()
    return [r[0] for r in rows], [f"{t}. {d}" if d else t for _, t, d in rows]


def build_product_index(settings: Settings, index_type: str = "auto", progress: bool = True):
    """Embed every product and save the index; returns (VectorIndex, texts)."""
    from knowledge.text_embeddings import embed, text_encoder
    from knowledge.vector_index import VectorIndex

    con = warehouse.connect(settings.warehouse)
    try:
        ids, texts = product_texts(con)
        version = data_version(con)
    finally:
        con.close()
    if not ids:
        raise ValueError(f"{settings.warehouse} has no products to index")
    if index_type == "auto":
        index_type = "flat" if len(ids) <= EXACT_UP_TO else "hnsw"
    vectors = embed(texts, progress=progress, encoder=settings.text_encoder)
    index = VectorIndex.build(ids, vectors, index_type, data_version=version,
                              model=text_encoder(settings.text_encoder).model)
    index.save(index_dir(settings))
    return index, texts


def current_product_index(settings: Settings):
    """The saved index and texts if they were built from the warehouse as it is now by the
    settings' text_encoder, else a freshly built one (embedding a catalogue takes minutes on a
    CPU, so reuse it)."""
    from knowledge.text_embeddings import text_encoder
    from knowledge.vector_index import VectorIndex

    con = warehouse.connect(settings.warehouse)
    try:
        version = data_version(con)
        ids, texts = product_texts(con)
    finally:
        con.close()
    folder = index_dir(settings)
    if (folder / "meta.json").is_file():
        index = VectorIndex.load(folder)
        model = text_encoder(settings.text_encoder).model
        if (index.meta.data_version, index.meta.model, index.ids) == (version, model, ids):
            return index, texts
    return build_product_index(settings)


def build_index_command(
    ctx: typer.Context,
    index_type: str = typer.Option("auto", help="flat (exact), hnsw, ivf, or auto "
                                   f"(flat up to {EXACT_UP_TO:,} products, else hnsw)."),
) -> None:
    """Embed the active shop's products (with the text_encoder setting) into a FAISS index."""
    import time

    from rich.console import Console

    settings: Settings = ctx.obj
    if index_type not in ("auto", "flat", "hnsw", "ivf"):
        raise typer.BadParameter(f"unknown index type {index_type!r}; use auto, flat, hnsw or ivf")
    started = time.perf_counter()
    index, _ = build_product_index(settings, index_type)
    Console().print(
        f"[green]indexed {index.meta.count:,} products[/] ({index.meta.index_type}, "
        f"dim {index.meta.dimension}) into {index_dir(settings)} in "
        f"{time.perf_counter() - started:.1f}s"
    )
