"""`get_user_profile`: a user's history summary for operators: first/last seen, orders, spend,
top categories and RFM scores (1-5 quintiles among current users, 5 = best), as of now."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, field_validator

from knowledge.features import data_cutoff
from knowledge.settings import Settings
from tools.behavior import features_now, open_shop
from tools.normalise import user_id_arg
from tools.registry import ToolContext, ToolError, tool

SEGMENTS = [  # (name, rule on R and F scores), first match wins
    ("champion", lambda r, f: r >= 4 and f >= 4),
    ("at risk (was frequent, not recent)", lambda r, f: r <= 2 and f >= 4),
    ("new or occasional (recent, few orders)", lambda r, f: r >= 4 and f <= 2),
    ("hibernating", lambda r, f: r <= 2 and f <= 2),
    ("regular", lambda r, f: True),
]


class UserProfileArgs(BaseModel):
    user_id: str = Field(..., min_length=1, description="The user to describe.")

    _user_id = field_validator("user_id", mode="before")(user_id_arg)  # 15544, "customer 15544"


def rfm_scores(features: pd.DataFrame, user_id: str) -> dict | None:
    """Quintile scores of one user's recency, frequency and monetary among users who bought."""
    buyers = features[features["frequency"] > 0]
    if user_id not in buyers.index:
        return None

    def score(column: str, ascending: bool) -> int:
        pct = buyers[column].rank(pct=True, ascending=ascending, method="average")[user_id]
        return int(np.clip(np.ceil(pct * 5), 1, 5))

    r, f, m = score("recency_days", False), score("frequency", True), score("monetary", True)
    segment = next(name for name, rule in SEGMENTS if rule(r, f))
    return {"recency": r, "frequency": f, "monetary": m, "segment": segment}


def _events(con, user_id: str) -> dict:
    rows = con.execute("SELECT event_type, count(*), min(ts), max(ts) FROM events "
                       "WHERE user_id = ? GROUP BY 1", [user_id]).fetchall()
    return {"counts": {r[0]: r[1] for r in rows},
            "first": min((r[2] for r in rows), default=None),
            "last": max((r[3] for r in rows), default=None)}


def _orders(con, user_id: str) -> dict:
    row = con.execute(
        "SELECT count(*) FILTER (WHERE status <> 'cancelled'), "
        "count(*) FILTER (WHERE status = 'cancelled'), "
        "sum(total) FILTER (WHERE status <> 'cancelled'), min(ordered_at), max(ordered_at) "
        "FROM orders WHERE user_id = ?", [user_id]).fetchone()
    return {"orders": row[0], "cancelled_orders": row[1], "spend": round(row[2] or 0.0, 2),
            "first_order": row[3], "last_order": row[4]}


def _top_categories(con, user_id: str, k: int = 3) -> list[dict]:
    rows = con.execute(
        "SELECT category, count(*) AS events, "
        "round(sum(coalesce(quantity, 0) * coalesce(price, 0)), 2) AS spend "
        "FROM events WHERE user_id = ? AND category IS NOT NULL "
        "GROUP BY 1 ORDER BY spend DESC, events DESC, 1 LIMIT ?", [user_id, k]).fetchall()
    return [{"category": r[0], "events": r[1], "spend": r[2]} for r in rows]


def _stamp(value) -> str | None:
    return None if value is None else f"{value:%Y-%m-%d %H:%M}"


def profile(settings: Settings, user_id: str) -> dict:
    con = open_shop(settings)
    try:
        user = con.execute("SELECT country, signup_at FROM users WHERE user_id = ?",
                           [user_id]).fetchone()
        events = _events(con, user_id)
        if user is None and not events["counts"]:
            raise ToolError(f"unknown user {user_id!r} in shop {settings.shop!r}; check the id "
                            "(query_segment can list users)")
        orders = _orders(con, user_id)
        categories = _top_categories(con, user_id)
        cutoff = data_cutoff(con) if events["counts"] else None
    finally:
        con.close()
    seen = [t for t in (events["first"], events["last"], orders["first_order"],
                        orders["last_order"]) if t is not None]
    rfm = rfm_scores(features_now(settings), user_id) if events["counts"] else None
    return {
        "user_id": user_id,
        "country": user[0] if user else None,
        "first_seen": _stamp(min(seen, default=None)),
        "last_seen": _stamp(max(seen, default=None)),
        "orders": orders["orders"],
        "cancelled_orders": orders["cancelled_orders"],
        "spend": orders["spend"],
        "average_order_value": round(orders["spend"] / orders["orders"], 2)
        if orders["orders"] else None,
        "last_order": _stamp(orders["last_order"]),
        "events": events["counts"],
        "top_categories": categories,
        "rfm": rfm,
        "data_cutoff": _stamp(cutoff),
    }


def headline(result: dict) -> str:
    where = f" ({result['country']})" if result.get("country") else ""
    if not result["orders"]:
        return (f"{result['user_id']}{where} has no orders yet; last seen "
                f"{result['last_seen'] or 'never'}.")
    text = (f"{result['user_id']}{where}: {result['orders']} orders, {result['spend']:.2f} "
            f"spent in total ({result['average_order_value']:.2f} per order), last order "
            f"{result['last_order']}.")
    if result["top_categories"]:
        text += " Top categories: " + ", ".join(c["category"] for c in result["top_categories"]) + "."
    if result.get("rfm"):
        text += f" RFM segment: {result['rfm']['segment']}."
    return text


@tool("get_user_profile",
      "A user's history summary: first and last seen, orders, spend, top categories and RFM "
      "scores (1-5 among current customers) with an RFM segment.",
      UserProfileArgs, roles={"operator"}, headline=headline)
def get_user_profile(ctx: ToolContext, args: UserProfileArgs) -> dict:
    return profile(ctx.settings, args.user_id.strip())
