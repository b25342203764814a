"""Plausible tool results, and the answer grounded in each, for the training dialogs.

A tool with a headline (tools/registry.py) gets a synthetic result in the real tool's shape,
then its headline from the tool's own function, so the trained answer quotes exactly the text
the served tool will put first in its result. Tools without one (the tau-bench-shaped
customer-service look-ups) keep a short result and a templated answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache
from typing import Any

from finetune.dialog.entities import Entities
from knowledge.docs import Passage, chunk, default_policy
from knowledge.features import describe_feature
from tools.behavior import DEFAULT_HORIZON
from tools.customer_service import safe_arithmetic
from tools.model_view import AWAITING_CONFIRMATION
from tools.profile import SEGMENTS
from tools.registry import get_tool

FEATURES = ["recency_days", "frequency", "monetary", "events_30d", "events_90d", "spend_90d",
            "baskets_90d", "active_days_30d", "days_since_last_event"]
ARMS = ["email", "coupon", "ad"]
CONFIRM_LEAD_IN = "Here is what I will do."  # the agent adds the details and asks for a yes
STATUS_AFTER = {"cancel_pending_order": "cancelled",
                "return_delivered_order_items": "return requested",
                "exchange_delivered_order_items": "exchange requested",
                "modify_pending_order_items": "pending (item modified)"}
Result = Callable[[random.Random, dict, Entities], dict]


@cache
def policy_passages() -> list[Passage]:
    return [p for doc in default_policy() for p in chunk(doc)]


def _day(r: random.Random) -> str:
    return f"2026-{r.randrange(1, 11):02d}-{r.randrange(1, 29):02d} {r.randrange(24):02d}:" \
           f"{r.randrange(60):02d}"


def prediction(r: random.Random, a: dict, e: Entities) -> dict:
    event = a.get("event", "purchase")
    factors = [{"feature": f, "meaning": describe_feature(f), "value": round(r.uniform(0, 90), 3),
                "effect": round(r.uniform(0.01, 2), 4), "direction": r.choice(["raises", "lowers"])}
               for f in r.sample(FEATURES, r.randrange(0, 4))]
    return {"user_id": a["user_id"], "event": event,
            "horizon_days": a.get("horizon_days") or DEFAULT_HORIZON[event],
            "probability": round(r.random(), 4), "percentile": round(r.uniform(0, 100), 1),
            "population": r.randrange(300, 60000), "top_factors": factors}


def profile(r: random.Random, a: dict, e: Entities) -> dict:
    orders = r.choice([0, 1, 2, 3, 5, 8, 13, 21, 40])
    spend = round(orders * r.uniform(5, 120), 2)
    cats = r.sample(e.categories, min(r.randrange(0, 4), len(e.categories)))
    return {"user_id": a["user_id"], "country": r.choice(e.countries or [None]),
            "first_seen": _day(r), "last_seen": _day(r), "orders": orders,
            "cancelled_orders": r.randrange(0, 2), "spend": spend,
            "average_order_value": round(spend / orders, 2) if orders else None,
            "last_order": _day(r) if orders else None,
            "top_categories": [{"category": c, "events": r.randrange(1, 300)} for c in cats],
            "rfm": {"segment": r.choice(SEGMENTS)[0]} if orders else None}


def recommendations(r: random.Random, a: dict, e: Entities) -> dict:
    n = 0 if r.random() < 0.05 else min(a.get("k", 5), 10)
    items = [{"id": str(r.randrange(10**9, 10**10)), "title": t,
              "price": round(r.uniform(3, 120), 2), "score": round(r.uniform(0.1, 6), 4)}
             for t in r.sample(e.titles, min(n, len(e.titles)))]
    return {"mode": "user" if a.get("user_id") else "query", "user_id": a.get("user_id"),
            "query": a.get("query"), "items": items, "note": None}


def segment(r: random.Random, a: dict, e: Entities) -> dict:
    count = 0 if r.random() < 0.1 else r.randrange(1, 5000)
    mean = r.uniform(10, 900)
    return {"question": a.get("question"), "filters": a.get("filters") or {}, "count": count,
            "share_of_users": round(count / r.randrange(count + 1, count * 20 + 2), 4),
            "summary": {"spend_total": round(count * mean, 2), "spend_mean": round(mean, 4),
                        "orders_mean": round(r.uniform(1, 20), 4),
                        "recency_days_median": r.choice([None, float(r.randrange(0, 400))])}}


def intervention(r: random.Random, a: dict, e: Entities) -> dict:
    arms = [a["channel"]] if a.get("channel") else ARMS
    if a.get("user_id"):
        best, treat = r.choice(arms), r.random() < 0.6
        return {"user_id": a["user_id"], "treat": treat, "arm": best if treat else "control",
                "best_arm": best, "estimated_uplift": round(r.uniform(-0.02, 0.1), 5),
                "expected_incremental_profit": round(r.uniform(0.01, 3) * (1 if treat else -1),
                                                     4)}
    members = r.randrange(50, 5000)
    treated = r.randrange(0, members)
    by_arm = {f"campaign:{arm}": n for arm in r.sample(arms, r.randrange(1, len(arms) + 1))
              if (n := r.randrange(1, treated + 2))}
    segment = a.get("segment") or "{}"
    return {"segment": segment if isinstance(segment, str) else str(segment),
            "users_in_segment": members, "budget": a.get("budget"),
            "max_users": a.get("max_users"),
            "plan": {"users_treated": treated, "by_arm": by_arm if treated else {},
                     "total_cost": round(treated * r.choice([0.05, 0.5, 1.5]), 2),
                     "expected_incremental_conversions": {"model": round(treated * 0.02, 3)},
                     "expected_incremental_revenue": {"model": round(treated * 0.9, 2)}},
            "top_users": [{"user_id": u} for u in r.sample(e.user_ids, min(3, len(e.user_ids)))
                          ] if treated else []}


def passages(r: random.Random, a: dict, e: Entities) -> dict:
    found = r.sample(policy_passages(), 2) if r.random() > 0.05 else []
    return {"query": a["query"], "passages": [{"title": p.title, "section": p.section,
                                               "source": p.source, "text": p.text}
                                              for p in found]}


def order(r: random.Random, a: dict, e: Entities) -> dict:
    if a.get("order_id") in e.orders:
        return e.orders[a["order_id"]]
    items = [{"name": t, "item_id": str(r.randrange(10**9, 10**10)),
              "price": round(r.uniform(3, 400), 2)}
             for t in r.sample(e.titles, min(r.randrange(1, 4), len(e.titles)))]
    return {"order_id": a.get("order_id", "#W0000000"), "status": r.choice(
        ["pending", "processed", "delivered", "cancelled"]), "items": items}


def user(r: random.Random, a: dict, e: Entities) -> dict:
    if a.get("user_id") in e.customers:
        return e.customers[a["user_id"]]
    first, last, *_ = f"{a.get('user_id', 'alex')}_doe".split("_")
    return {"name": {"first_name": first.title(), "last_name": last.title()},
            "email": f"{first}.{last}{r.randrange(100, 9999)}@example.com",
            "address": {"city": "Springfield", "country": r.choice(e.countries or ["USA"])},
            "orders": [f"#W{r.randrange(10**6, 10**7)}" for _ in range(r.randrange(0, 4))]}


def product(r: random.Random, a: dict, e: Entities) -> dict:
    variants = {(i := str(r.randrange(10**9, 10**10))): {
        "item_id": i, "options": {"color": r.choice(["black", "red", "blue"])},
        "available": r.random() < 0.7, "price": round(r.uniform(5, 300), 2)}
        for _ in range(r.randrange(1, 5))}
    return {"name": r.choice(e.titles), "product_id": a.get("product_id", "0"),
            "variants": variants}


def catalogue(r: random.Random, a: dict, e: Entities) -> dict:
    titles = r.sample(e.titles, min(12, len(e.titles)))
    return {"product_types": {t: str(r.randrange(10**9, 10**10)) for t in titles}}


RESULTS: dict[str, Result] = {
    "predict_behavior": prediction, "get_user_profile": profile,
    "recommend_products": recommendations, "query_segment": segment,
    "suggest_intervention": intervention, "search_knowledge": passages,
    "get_order_details": order, "get_user_details": user, "get_product_details": product,
    "list_all_product_types": catalogue,
}

# Customer-service look-ups (no headline): (result, answer).
ANSWERED: dict[str, Callable[[random.Random, dict, Entities], tuple[Any, str]]] = {
    "find_user_id_by_email": lambda r, a, e: (
        {"user_id": r.choice(sorted(e.customers))}, "Thank you, I found your account. How can I help you today?"),
    "find_user_id_by_name_zip": lambda r, a, e: (
        {"user_id": r.choice(sorted(e.customers))}, "Thanks, you are verified. What can I do for you?"),
    "calculate": lambda r, a, e: (
        (p := {"result": safe_arithmetic(a["expression"])}), f"That is {p['result']}."),
    "transfer_to_human_agents": lambda r, a, e: (
        {"result": "Transfer successful"},
        "I've transferred you to a human agent; they will be with you shortly."),
}


def with_headline(tool: str, result: dict) -> dict:
    """The result as the served tool returns it: its headline first."""
    return {"headline": get_tool(tool).headline(result), **result}


def confirmed(r: random.Random, tool: str, args: dict, ents: Entities) -> dict:
    """The result of a write call the customer said yes to: the changed order (or user)."""
    if tool == "modify_user_address":
        return with_headline(tool, user(r, args, ents))
    changed = order(r, args, ents)
    return with_headline(tool, {**changed, "status": STATUS_AFTER.get(tool, changed["status"])})


def outcome(r: random.Random, tool: str, args: dict, ents: Entities) -> tuple[Any, str]:
    """A plausible result of ``tool`` called with ``args``, and the answer grounded in it."""
    if get_tool(tool).writes:  # the agent holds a write call until the customer says yes
        return AWAITING_CONFIRMATION, CONFIRM_LEAD_IN
    if tool in RESULTS:
        result = with_headline(tool, RESULTS[tool](r, args, ents))
        return result, result["headline"]
    if tool in ANSWERED:
        return ANSWERED[tool](r, args, ents)
    return {"ok": True}, "Done. Is there anything else I can help with?"
