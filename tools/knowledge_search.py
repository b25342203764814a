"""`search_knowledge`: policy and FAQ passages that answer a question, each with its source.

The assistant quotes these passages instead of inventing policy. Both roles may call it: the
documents are the shop's public policy, not customer data. The index is the registry's serving
version of ``knowledge/<shop>`` (finetune/knowledge_index.py), named in the result's ``index``.
"""

from __future__ import annotations

import typer
from pydantic import BaseModel, Field, field_validator

from finetune.knowledge_index import serving_index
from finetune.registry import RegistryError
from knowledge.docs import KnowledgeIndexError
from knowledge.warehouse import WarehouseMissingError
from tools.normalise import count_arg
from tools.registry import ToolContext, ToolError, tool

MAX_K = 10


class SearchKnowledgeArgs(BaseModel):
    query: str = Field(..., max_length=1000, description="What to look up, in the user's words.")
    k: int = Field(3, ge=1, le=MAX_K, description=f"How many passages to return (1-{MAX_K}).")

    _k = field_validator("k", mode="before")(count_arg)  # "a couple", "three"

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is empty; pass the question to look up")
        return value.strip()


HEADLINE_CHARS = 320


def headline(result: dict) -> str:
    if not result["passages"]:
        return f"Nothing in the policies or FAQ matches '{result['query']}'."
    best = result["passages"][0]
    text = best["text"] if len(best["text"]) <= HEADLINE_CHARS else \
        best["text"][:HEADLINE_CHARS].rsplit(" ", 1)[0] + " ..."
    return f"{best['title']}, {best['section']}: {text}"


@tool(
    "search_knowledge",
    "Search the shop's policies and FAQ (shipping, returns, exchanges, cancellations, payments, "
    "gift cards, privacy, warranty, support) and return the most relevant passages with their "
    "source. Quote them; do not invent policy.",
    SearchKnowledgeArgs,
    roles={"operator", "customer"},
    headline=headline,
)
def search_knowledge(ctx: ToolContext, args: SearchKnowledgeArgs) -> dict:
    try:
        base, version = serving_index(ctx.settings)
    except (KnowledgeIndexError, RegistryError, WarehouseMissingError) as err:
        raise ToolError(str(err)) from err
    hits = base.search(args.query, args.k)
    return {
        "query": args.query,
        "passages": [
            {"doc_id": p.doc_id, "title": p.title, "section": p.section, "source": p.source,
             "text": p.text, "score": round(score, 4)}
            for p, score in hits
        ],
        "index": {"version": version or "unregistered", "encoder": base.encoder.key},
    }


def search_knowledge_command(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="The question, e.g. 'how long do I have to return?'"),
    k: int = typer.Option(3, help=f"How many passages (1-{MAX_K})."),
) -> None:
    """Print the policy/FAQ passages that search_knowledge returns for QUERY."""
    from rich.console import Console

    from tools.registry import get_tool

    console = Console()
    try:
        result = get_tool("search_knowledge").invoke(ToolContext(ctx.obj), {"query": query, "k": k})
    except ToolError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from err
    for rank, p in enumerate(result["passages"], start=1):
        console.print(f"[bold]{rank}. {p['title']} - {p['section']}[/] ({p['doc_id']}, "
                      f"{p['source']}, score {p['score']})\n{p['text']}\n")
