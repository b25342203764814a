"""`recommend_products`: products for a user (history + current session, read at call time), for
a free-text query (semantic search), or both (query matches re-ranked for the user). A signed-in
customer's query is re-ranked for them, so what their widget just sent (``shopmind.track``)
moves their next answer. Every result says why it was picked."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, Field, field_validator

from knowledge import warehouse
from knowledge.product_index import recommend_dir
from tools.normalise import count_arg, user_id_arg
from tools.registry import ToolContext, ToolError, tool

MAX_K = 50
QUERY_POOL = 100  # semantic matches considered before re-ranking for the user
PERSONAL_WEIGHT = 0.5  # how much the user's taste moves query matches


class RecommendInput(BaseModel):
    user_id: str | None = Field(None, description="Recommend for this user (history and session).")
    query: str | None = Field(None, description="Free-text description of what to find, "
                              "e.g. 'red lantern'.")
    k: int = Field(5, ge=1, le=MAX_K, description=f"How many products to return (1-{MAX_K}).")
    exclude_purchased: bool = Field(True, description="Leave out products the user already bought.")

    _user_id = field_validator("user_id", mode="before")(user_id_arg)  # 15544, "customer 15544"
    _k = field_validator("k", mode="before")(count_arg)  # "half a dozen", "五个"


def _check_access(ctx: ToolContext, args: RecommendInput) -> str | None:
    """The user whose history is used, after the role rules: operators name one; a customer's
    query is always re-ranked for the signed-in customer (their history and the events their
    widget sent a moment ago), never for anyone else."""
    if args.query is not None and not args.query.strip():
        raise ToolError("query is empty; describe the product to look for, e.g. 'red lantern'")
    if args.user_id is not None and not args.user_id.strip():
        raise ToolError("user_id is empty; pass a user id or leave it out and pass a query")
    if args.user_id is None and args.query is None:
        raise ToolError("recommend_products needs a user_id, a query, or both")
    if ctx.role == "customer":
        if args.query is None:
            raise ToolError("customers can get recommendations by query only; "
                            "ask what kind of product they are looking for")
        if args.user_id is not None and args.user_id.strip() != ctx.customer_id:
            raise ToolError("customers can only personalise recommendations with their own account")
        return ctx.customer_id
    return args.user_id.strip() if args.user_id else None


def _load_model(ctx: ToolContext):
    """The registry's serving version of the shop's recommender."""
    from finetune.recommend.serving import ModelMissingError, serving_recommender
    from finetune.registry import RegistryError

    try:
        return serving_recommender(ctx.settings)
    except ModelMissingError as err:
        raise ToolError(f"no recommendation model for shop {ctx.settings.shop!r} "
                        f"({recommend_dir(ctx.settings)}); build it with "
                        "`shopmind train recommend`") from err
    except RegistryError as err:
        raise ToolError(str(err)) from err


def _user_state(con, user_id: str, model):
    """(history over the model's catalogue, purchased product ids, country) read now."""
    from finetune.recommend.data import histories_from, load_events

    events = load_events(con, user_id=user_id)
    history = histories_from(events, model.item_index).get(user_id)
    purchased = set(events.loc[events["event_type"] == "purchase", "product_id"].astype(str))
    row = con.execute("SELECT country FROM users WHERE user_id = ?", [user_id]).fetchone()
    return history, purchased, (row[0] if row else None)


def _products(con, ids: list[str]) -> dict[str, tuple[str, float | None]]:
    rows = con.execute("SELECT product_id, title, price FROM products WHERE product_id IN "
                       f"({', '.join('?' * len(ids))})", ids).fetchall() if ids else []
    return {r[0]: (r[1], r[2]) for r in rows}


def _popular(con, country: str | None, exclude: set[str], k: int) -> list[tuple[str, float]]:
    """Most purchased products (by distinct buyers) in the country, or overall."""
    where = "e.event_type = 'purchase'" + (" AND u.country = ?" if country else "")
    rows = con.execute(
        "SELECT e.product_id, count(DISTINCT e.user_id) AS n FROM events e "
        f"LEFT JOIN users u USING (user_id) WHERE {where} GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?",
        ([country] if country else []) + [k + len(exclude)],
    ).fetchall()
    return [(pid, float(n)) for pid, n in rows if pid not in exclude][:k]


def _reason(model, history, parts: dict[str, np.ndarray], item: int, title) -> str:
    """Say which component put `item` here, in words."""
    source = max(parts, key=lambda name: parts[name][item])
    others = np.unique(history.items[history.items != item])  # explain by the user's other items
    if source == "repeat" or (source != "popularity" and not len(others)):
        when = datetime.fromtimestamp(history.ts[history.items == item].max(), UTC)
        verb = "bought" if item in history.purchased else "looked at"
        return f"you {verb} it before (last on {when:%Y-%m-%d})"
    if source == "itemknn":
        other, _ = model.components["itemknn"].strongest_source(others, item)
        return f"bought together with '{title(other)}'"
    if source in ("als", "text"):
        vectors = (model.components["als"].item_factors if source == "als"
                   else model.components["text"].embeddings)
        return f"similar to '{title(others[np.argmax(vectors[others] @ vectors[item])])}'"
    if source == "sasrec":
        return f"often comes next after '{title(history.items[-1])}'"
    return "popular with customers right now"


def _query_matches(model, query: str, exclude: set[str]) -> list[tuple[str, float]]:
    from knowledge.text_embeddings import embed

    if model.text_index is None:
        raise ToolError("no product text index; build it with `shopmind index build`")
    # the encoder that built the index, whatever the settings say now (its vectors are the ones
    # this version was trained and gated with)
    vector = embed([query.strip()], encoder=model.text_index.meta.model, query=True)
    hits = model.text_index.search(vector, QUERY_POOL + len(exclude))
    return [(pid, score) for pid, score in hits if pid not in exclude]


def _for_user(model, total: np.ndarray, exclude: set[str], k: int) -> list[tuple[str, float]]:
    scores = total.copy()
    scores[[model.item_index[p] for p in exclude if p in model.item_index]] = -np.inf
    best = np.argsort(-scores, kind="stable")[:k]
    return [(model.items[i], float(scores[i])) for i in best if np.isfinite(scores[i])]


def _rerank(model, matches: list[tuple[str, float]], total: np.ndarray) -> list[tuple[str, float]]:
    """Query similarity + PERSONAL_WEIGHT * the user's (max-scaled) hybrid score."""
    peak = max(float(total.max()), 1e-9)

    def personal(pid: str) -> float:
        row = model.item_index.get(pid)
        return float(total[row]) / peak if row is not None else 0.0

    return sorted(((pid, sim + PERSONAL_WEIGHT * personal(pid)) for pid, sim in matches),
                  key=lambda pair: -pair[1])


def headline(result: dict) -> str:
    items = result["items"]
    whom = " and ".join(filter(None, (
        f"for {result['user_id']}" if result.get("user_id") else None,
        f"matching '{result['query']}'" if result.get("query") else None))) or "popular now"
    if not items:
        return f"No products found {whom}."
    listed = "; ".join(f"{i['title']} ({i['price']})" for i in items)
    note = f" Note: {result['note']}." if result.get("note") else ""
    return f"Top {len(items)} products {whom}: {listed}.{note}"


@tool("recommend_products",
      "Recommend products for a user (from their history and current session), for a "
      "free-text query, or both (query matches re-ranked for the user). Returns id, title, "
      "price, score and the reason for each product.",
      RecommendInput, roles={"operator", "customer"}, headline=headline)
def recommend_products(ctx: ToolContext, args: RecommendInput) -> dict:
    user_id = _check_access(ctx, args)
    model = _load_model(ctx)
    con = warehouse.open_shared(ctx.settings.warehouse)  # waits for an event being written
    try:
        history, purchased, country = (_user_state(con, user_id, model) if user_id
                                       else (None, set(), None))
        exclude = purchased if args.exclude_purchased else set()
        total = parts = note = None
        if history is not None:
            total, parts = model.explain_parts(history, "new" if args.exclude_purchased else "all")
        elif user_id:
            note = (f"no history for user {user_id}" + ("" if country else " (unknown user)")
                    + f"; showing what is popular {'in ' + country if country else 'overall'}")
        if args.query is None and total is None:
            ranked = _popular(con, country, exclude, args.k)
        elif args.query is None:
            ranked = _for_user(model, total, exclude, args.k)
        else:
            matches = _query_matches(model, args.query, exclude)
            ranked = (_rerank(model, matches, total) if total is not None else matches)[:args.k]
        shown = [pid for pid, _ in ranked]
        if history is not None:
            shown += [model.items[i] for i in np.unique(history.items)]
        info = _products(con, shown)
    finally:
        con.close()

    def title(row: int) -> str:
        pid = model.items[row]
        return info.get(pid, (pid,))[0]

    def why(pid: str) -> str:
        row = model.item_index.get(pid)
        personal = total is not None and row is not None
        if args.query is None:
            return (_reason(model, history, parts, row, title) if personal
                    else f"popular {'in ' + country if country else 'overall'}")
        quoted = f"matches '{args.query.strip()}'"
        if personal and total[row] >= 0.5 * total.max():  # the user's taste helped, say how
            return f"{quoted}; {_reason(model, history, parts, row, title)}"
        return quoted

    items = [{"id": pid, "title": info.get(pid, (pid, None))[0], "price": info.get(pid, (pid, None))[1],
              "score": round(score, 4), "reason": why(pid)} for pid, score in ranked]
    mode = "+".join(m for m, on in (("query", args.query), ("user", total is not None)) if on)
    return {"mode": mode or "popular", "user_id": user_id, "query": args.query,
            "items": items, "note": note,
            "model": {"version": model.meta.version, "trained_until": model.meta.trained_until,
                      "data_version": model.meta.data_version}}
