"""`search_knowledge`: policy and FAQ passages that answer a question, each with its source.

The assistant quotes these passages instead of inventing policy. Both roles may call it: the
documents are the shop's public policy, not customer data.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from knowledge.docs import KnowledgeIndexError, knowledge_base
from knowledge.warehouse import WarehouseMissingError
from tools.registry import ToolContext, ToolError, tool

MAX_K = 10


class SearchKnowledgeArgs(BaseModel):
    query: str = Field(..., max_length=1000, description="What to look up, in the user's words.")
    k: int = Field(3, ge=1, le=MAX_K, description=f"How many passages to return (1-{MAX_K}).")

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is empty; pass the question to look up")
        return value.strip()


@tool(
    "search_knowledge",
    "Search the shop's policies and FAQ (shipping, returns, exchanges, cancellations, payments, "
    "gift cards, privacy, warranty, support) and return the most relevant passages with their "
    "source. Quote them; do not invent policy.",
    SearchKnowledgeArgs,
    roles={"operator", "customer"},
)
def search_knowledge(ctx: ToolContext, args: SearchKnowledgeArgs) -> dict:
    try:
        base = knowledge_base(ctx.settings)
    except (KnowledgeIndexError, WarehouseMissingError) as err:
        raise ToolError(str(err)) from err
    hits = base.search(args.query, args.k)
    return {
        "query": args.query,
        "passages": [
            {"doc_id": p.doc_id, "title": p.title, "section": p.section, "source": p.source,
             "text": p.text, "score": round(score, 4)}
            for p, score in hits
        ],
    }
