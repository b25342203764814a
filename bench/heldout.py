"""Held-out tool-call evaluation sets for the dialog model, written by a second author.

Why this exists: the dialog model's training, dev and test cases all come from one generator
(``finetune/dialog/data.py``) and one set of phrasings (``finetune/dialog/phrasings.yaml``). A model
can score well on them by learning those phrasings and entity formats rather than the tool
contract. These two sets were written without reading either file (nor ``bench/data``'s other
files), so they measure how well the model generalises to another author's wording, to other
shops' id formats and to real customer utterances.

    python -m bench.heldout --out artifacts/heldout [--seed 7] [--data-dir ../shared/datasets]
                            [--shop-db data/synthetic.duckdb] [--system]

writes, in the DESIGN.md evaluation format (``shopmind eval toolcalls FILE``; the cases carry no
system prompt unless ``--system``: the evaluator puts the role's served prompt first), plus a
``manifest.json`` with the seed and the counts per kind:

``other_author.jsonl`` (~285 cases): the hand-written templates of
``bench/data/heldout_requests.yaml`` filled with entities of other shops: Online Retail customer
ids ("customer 16029", "no. 16029", "#16029", "acct 16029") and product descriptions (quoted
queries), Shopify-style handles ("cust-8841") and plain numeric ids, e-mails, names with zip codes
and tau-bench orders written with and without "#" ("W2611340", "order no. 2611340" -> the tool
needs "#W2611340"). Kinds: coverage, words, ids, multi_intent, follow_up, error_recovery,
no_call:<why>, typos and zh:<sub-kind> (Chinese).

``real_utterances.jsonl`` (~225 cases, only when the datasets folder is there): real wording of
held-out sources, each mapped to its first correct step under our tool contract (``kind`` = the
source folder, then ":" and the sub-kind):

- ``abcd_guidelines_ontology``: customer turns of the three ABCD sample dialogues (history = the
  dialogue so far, ABCD's own "action" lines left out) and the FAQ questions its guidelines list
  for the Single-Item and Storewide flows. Mapping: not signed in yet -> no call (ask for e-mail
  or name + zip; a user name or order id alone does not sign in); an e-mail given ->
  ``find_user_id_by_email``; FAQ, policy and product-care questions -> ``search_knowledge``
  (ABCD's agents answered them from the FAQ); "do you have it in another size / in stock" ->
  ``list_all_product_types`` (stock lives in product details, and the product id must be found
  first); thanks/bye -> no call.
- ``amazon_qa_appliances``: real shopper questions. The appliances are not in our catalogue and
  the file has no titles, so the mapping is by what the question needs: warranty, shipping,
  return or refund questions -> ``search_knowledge`` (policy, no product id); a shopper looking
  for a product ("where can I buy ...", "do you sell ...", "I'm looking for a ...") with no
  reference to the page's product -> ``recommend_products`` (name only: the query is not
  unambiguous); any other question about the product itself is sent with the product id the
  widget knows ("Product B00ABC1234: ...") -> ``get_product_details`` with that id.
- ``bitext_customer_service_intents``: ``llm_qa_with_responses.csv.gz`` only (never train.csv or
  dev.csv, which the model trains and is tuned on). The first message of a chat, so nobody is
  signed in: policy intents (refund policy, cancellation fee, delivery options and period,
  payment methods, how to contact support) -> ``search_knowledge``; contact_human_agent ->
  ``transfer_to_human_agents``; intents about the customer's own order, refund, invoice or
  address -> no call (authenticate first). Intents with no tool here (accounts, newsletter,
  complaints, reviews, placing orders, payment errors) are left out rather than guessed.
- ``tau2_bench_retail``: templates of this author (the ``tau2`` section of the YAML) filled with
  users, e-mails, orders, items and payment methods of the tau2-bench retail database, decided by
  its policy.md (authenticate even when a user id is given, one user per conversation, only
  pending orders are cancelled or modified, ...). tau2's database holds the same 500 users and
  1,000 orders as tau-bench v1, so the users are split between the sets: a seeded half for set 1,
  the other half for set 2.

How ``expected`` is decided (one first step per case; the scorer compares only the first call):

- Only arguments the user stated are expected, and never a value equal to the tool's default
  (event "purchase", horizon 30 days, or 90 for churn, k 5, ...): a model may leave a default out.
  ``question``, ``summary``, ``thought`` and ``search_knowledge``'s ``query`` are never expected;
  ``recommend_products``'s ``query`` only when the user quoted it. A ``segment`` is only expected
  when it is a saved segment's name (a filter object may be sent as an object or a JSON string).
- Customers: sign-in first (assistant/prompts/customer.md, tau2 policy): until a ``find_user_id_*``
  result is in the conversation, an order or account request is answered by asking (no call).
  Product questions, policy questions and recommendations by query need no sign-in.
- "Look before you write": an order the conversation has not shown is first read with
  ``get_order_details``; once shown and every detail is given (order, items, reason, payment method,
  full address), the write tool itself is the call: the shop, not the model, then asks the customer
  to confirm. A missing detail (which reason, which new address) -> no call (ask).
- Several intents in one message: the first step of the first stated intent.
- Every id the expected call needs must be visible to the model: in the user's words or in the part
  of a tool result the model sees (the first 600 characters, ``tools/model_view.py``); entities
  are re-drawn until that holds.

Reproducible from ``--seed``; reads only local files; downloads nothing. Without the datasets
folder, set 1 falls back to generated Online-Retail-style ids and a generated tau-shaped shop, and
set 2 is not written.
"""

from __future__ import annotations

import argparse
import copy
import csv
import gzip
import html
import json
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from tools.customer_service import order_headline, product_headline, user_headline
from tools.model_view import AWAITING_CONFIRMATION, model_view, result_text

HERE = Path(__file__).resolve().parent
SPEC_PATH = HERE / "data" / "heldout_requests.yaml"
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
# Arguments whose values must be visible in the conversation (typed by the user or shown by a tool).
ID_KEYS = {"user_id", "order_id", "item_ids", "new_item_ids", "payment_method_id", "product_id",
           "email", "first_name", "last_name", "zip"}
MAX_TRIES = 200


# --- entities -------------------------------------------------------------------------------------

@dataclass
class Shop:
    """tau-bench-shaped records: users (with ``user_id``), orders and products by id."""

    users: dict[str, dict]
    orders: dict[str, dict]
    products: dict[str, dict]


@dataclass
class Pools:
    retail_ids: list[str]
    set1: Shop
    set2: Shop | None
    categories: list[str]
    queries: list[str]
    lists: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _read_retail(path: Path, wanted: int = 800) -> tuple[list[str], list[str]]:
    """Distinct CustomerIDs and short product descriptions (2-4 words, lower case) from the
    first lines of Online Retail, in file order (deterministic)."""
    ids: dict[str, None] = {}
    phrases: dict[str, None] = {}
    with gzip.open(path, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            cid = (row.get("CustomerID") or "").strip()
            if cid:
                ids.setdefault(str(int(float(cid))), None)
            words = (row.get("Description") or "").lower().split()
            if 2 <= len(words) <= 4 and all(w.isalpha() for w in words):
                phrases.setdefault(" ".join(words), None)
            if len(ids) >= wanted:
                break
    return list(ids), list(phrases)


def _tau_shop(users: dict, orders: dict, products: dict) -> Shop:
    return Shop(users={uid: {"user_id": uid, **u} for uid, u in users.items()},
                orders=orders, products=products)


def _fallback_shop(rng: random.Random) -> Shop:
    """A small generated shop in tau-bench's shape, for when the datasets are not there."""
    firsts = ["Maya", "Omar", "Lena", "Ivan", "Sofia", "Yusuf", "Clara", "Mateo", "Aiko", "Noor",
              "Felix", "Grace", "Hugo", "Isla", "Jonas", "Kira"]
    lasts = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Rossi", "Haddad", "Novak", "Silva",
             "Brennan", "Kowalski", "Ferreira", "Nguyen"]
    names = ["Desk Lamp", "Water Bottle", "Yoga Mat", "Electric Kettle", "Backpack",
             "Wireless Earbuds", "Hiking Boots", "Coffee Maker"]

    def digits(n: int) -> str:
        return str(rng.randrange(10 ** (n - 1), 10 ** n))

    products = {}
    for name in names:
        pid = digits(10)
        variants = {}
        for color in ["black", "blue", "red", "green"]:
            iid = digits(10)
            variants[iid] = {"item_id": iid, "options": {"color": color}, "available": True,
                             "price": round(rng.uniform(15, 300), 2)}
        products[pid] = {"name": name, "product_id": pid, "variants": variants}
    users, orders = {}, {}
    statuses = ["pending", "delivered", "processed", "cancelled"]
    for _ in range(120):
        first, last = rng.choice(firsts), rng.choice(lasts)
        uid = f"{first.lower()}_{last.lower()}_{digits(4)}"
        methods = {}
        for source in rng.sample(["gift_card", "paypal", "credit_card"], rng.randint(1, 3)):
            mid = f"{source}_{digits(7)}"
            methods[mid] = {"source": source, "id": mid} | (
                {"balance": float(rng.randint(0, 200))} if source == "gift_card" else {})
        address = {"address1": f"{rng.randint(1, 999)} Elm Street", "address2": "",
                   "city": "Springfield", "country": "USA", "state": "IL", "zip": digits(5)}
        user = {"user_id": uid, "name": {"first_name": first, "last_name": last},
                "address": address,
                "email": f"{first.lower()}.{last.lower()}{digits(4)}@example.com",
                "payment_methods": methods, "orders": []}
        for _ in range(rng.randint(1, 4)):
            oid = f"#W{digits(7)}"
            items = []
            for product in rng.sample(list(products.values()), rng.randint(1, 3)):
                variant = rng.choice(list(product["variants"].values()))
                items.append({"name": product["name"], "product_id": product["product_id"],
                              "item_id": variant["item_id"], "price": variant["price"],
                              "options": variant["options"]})
            orders[oid] = {"order_id": oid, "user_id": uid, "address": address, "items": items,
                           "fulfillments": [],
                           "status": rng.choices(statuses, weights=[4, 4, 1, 1])[0],
                           "payment_history": [{"transaction_type": "payment",
                                                "amount": round(sum(i["price"] for i in items), 2),
                                                "payment_method_id": next(iter(methods))}]}
            user["orders"].append(oid)
        users[uid] = user
    return Shop(users, orders, products)


def _shop_categories(path: Path) -> list[str]:
    """The product categories of a shop warehouse (what purchased_category must match), or []."""
    if not path.is_file():
        return []
    try:
        import duckdb

        con = duckdb.connect(str(path), read_only=True)
        try:
            return [r[0] for r in con.execute(
                "SELECT DISTINCT category FROM products WHERE category IS NOT NULL "
                "ORDER BY category").fetchall()]
        finally:
            con.close()
    except Exception:  # noqa: BLE001 - optional source: fall back to the YAML list
        return []


def load_pools(spec: dict, data_dir: Path, shop_db: Path | None, seed: int) -> Pools:
    rng = random.Random(f"pools-{seed}")
    notes = []
    lists = spec["lists"]
    retail = data_dir / "online_retail_uci" / "online_retail.csv.gz"
    if retail.is_file():
        retail_ids, queries = _read_retail(retail)
    else:
        notes.append("Online Retail not found: generated 5-digit customer ids")
        retail_ids = sorted({str(rng.randrange(12346, 18288)) for _ in range(800)})
        queries = list(lists["queries"])
    tau = data_dir / "tau_bench_retail"
    if (tau / "users.json").is_file():
        with gzip.open(tau / "orders.json.gz", "rt") as handle:
            orders = json.load(handle)
        shop1 = _tau_shop(json.loads((tau / "users.json").read_text()), orders,
                          json.loads((tau / "products.json").read_text()))
    else:
        notes.append("tau-bench retail not found: generated a tau-shaped shop for set 1")
        shop1 = _fallback_shop(rng)
    shop2 = None
    tau2 = data_dir / "tau2_bench_retail" / "db.json.gz"
    if tau2.is_file():
        with gzip.open(tau2, "rt") as handle:
            db = json.load(handle)
        shop2 = Shop(db["users"], db["orders"], db["products"])
        # The two databases share user ids: a seeded half of the users per set.
        shared = sorted(set(shop1.users) & set(shop2.users))
        rng.shuffle(shared)
        half = set(shared[len(shared) // 2:])
        shop1 = Shop({k: v for k, v in shop1.users.items() if k not in half}, shop1.orders,
                     shop1.products)
        shop2 = Shop({k: v for k, v in shop2.users.items() if k in half or k not in shared},
                     shop2.orders, shop2.products)
    categories = _shop_categories(shop_db) if shop_db else []
    if not categories:
        notes.append("no shop warehouse: purchased_category values from the YAML list")
        categories = list(lists["categories"])
    return Pools(retail_ids, shop1, shop2, categories, queries, lists, notes)


# --- drawing the values of one case --------------------------------------------------------------

def _typo_email(email: str, rng: random.Random) -> str:
    local, _, domain = email.partition("@")
    for _ in range(20):
        i = rng.randrange(len(local) - 1)
        if local[i] != local[i + 1]:
            return local[:i] + local[i + 1] + local[i] + local[i + 2:] + "@" + domain
    return local + "x@" + domain


def _methods(user: dict, source: str) -> list[str]:
    return [m["id"] for m in user["payment_methods"].values() if m["source"] == source]


def _order_fits(order: dict, user: dict, needs: dict) -> bool:
    if needs.get("status") and order["status"] != needs["status"]:
        return False
    if needs.get("two_items") and len(order["items"]) < 2:
        return False
    if not order["items"]:
        return False
    if needs.get("gift_card") and len(_methods(user, "gift_card")) != 1:
        return False
    if needs.get("paypal"):
        paypal = _methods(user, "paypal")
        paid_with = order["payment_history"][0]["payment_method_id"] if order[
            "payment_history"] else None
        if len(paypal) != 1 or paid_with == paypal[0]:
            return False
    return True


def _customer_values(shop: Shop, needs: dict, rng: random.Random,
                     names_zh: dict[str, str]) -> dict[str, Any]:
    users = [u for u in shop.users.values() if u["orders"]]
    for _ in range(MAX_TRIES):
        user = rng.choice(users)
        own = [shop.orders[o] for o in user["orders"] if o in shop.orders]
        if needs.get("two_orders"):
            # order2 is the second order of the user's list ("the second one"), order another
            if len(own) < 2 or (needs.get("order2_status")
                                and own[1]["status"] != needs["order2_status"]):
                continue
            order2, own = own[1], [own[0], *own[2:]]
        fitting = [o for o in own if _order_fits(o, user, needs)]
        if not fitting:
            continue
        order = rng.choice(fitting)
        if not needs.get("two_orders"):
            order2 = order
        break
    else:
        raise RuntimeError(f"no user satisfies {needs}")
    other = rng.choice([u for u in users if u["user_id"] != user["user_id"]])
    other_order = shop.orders[other["orders"][0]]
    item = order["items"][0]
    item_product = shop.products.get(item["product_id"], {"variants": {}})
    swaps = [v for v in item_product["variants"].values()
             if v["available"] and v["item_id"] != item["item_id"]]
    if needs.get("swap") and not swaps:
        return _customer_values(shop, needs, rng, names_zh)
    swap = swaps[0] if swaps else {"item_id": "", "options": {}}  # the first is the most visible
    product = rng.choice(sorted(shop.products.values(), key=lambda p: p["product_id"]))
    query_product = rng.choice(sorted(shop.products.values(), key=lambda p: p["product_id"]))
    first, last = user["name"]["first_name"], user["name"]["last_name"]
    return {
        "user_id": user["user_id"], "email": user["email"], "email_typo": _typo_email(
            user["email"], rng), "first": first, "last": last, "zip": user["address"]["zip"],
        "order": order["order_id"], "order_w": order["order_id"].lstrip("#"),
        "order_n": order["order_id"].lstrip("#W"), "order_status": order["status"],
        "items_text": ", ".join(i["name"] for i in order["items"]),
        "item_name": item["name"].lower(), "item_id": item["item_id"],
        "item_name_zh": names_zh.get(item["name"], item["name"]),
        "item_product_id": item["product_id"],
        "item_option_key": next(iter(item["options"]), "colour"),
        "new_item_id": swap["item_id"], "new_item_desc": ", ".join(swap["options"].values()),
        "order2": order2["order_id"], "order2_w": order2["order_id"].lstrip("#"),
        "orders_text": ", ".join(user["orders"]),
        "methods_text": ", ".join(user["payment_methods"]),
        "gift_card": (_methods(user, "gift_card") or [""])[0],
        "paypal": (_methods(user, "paypal") or [""])[0],
        "other_email": other["email"], "other_first": other["name"]["first_name"],
        "other_last": other["name"]["last_name"], "other_zip": other["address"]["zip"],
        "other_order": other_order["order_id"],
        "other_order_w": other_order["order_id"].lstrip("#"),
        "product_id": product["product_id"], "product_name": product["name"],
        "product_name_lower": product["name"].lower(), "cquery": query_product["name"].lower(),
        "cquery_zh": names_zh.get(query_product["name"], query_product["name"]),
        "_records": {"user": {k: v for k, v in user.items() if k != "user_id"}, "order": order,
                     "order2": order2, "other_order": other_order,
                     "product": shop.products.get(item["product_id"])},
    }


def draw_values(pools: Pools, shop: Shop, needs: dict, rng: random.Random) -> dict[str, Any]:
    lists = pools.lists
    rid, rid2 = rng.sample(pools.retail_ids, 2)
    cust, cust2 = rng.sample(range(1000, 9999), 2)
    seg, seg2 = rng.sample(lists["segments"], 2)
    cat, cat2 = rng.sample(pools.categories, 2)
    country, country2 = rng.sample(lists["countries"], 2)
    qi = rng.randrange(len(lists["queries_zh"]))
    addresses = [a for a in lists["addresses"] if a["address2"] or not needs.get("address2")]
    address = rng.choice(addresses)
    values = {
        "rid": rid, "rid2": rid2, "cust": f"cust-{cust}", "cust2": f"cust-{cust2}",
        "shop_num": str(rng.randrange(6_000_000_000_000, 7_999_999_999_999)),
        "segment": seg, "segment2": seg2, "category": cat, "category2": cat2,
        "country": country["en"], "country_zh": country["zh"], "country2": country2["en"],
        "country2_zh": country2["zh"], "query": rng.choice(pools.queries),
        "query_zh": lists["queries_zh"][qi],
        **{f"new_{k}": v for k, v in address.items()},
    }
    values.update(_customer_values(shop, needs, rng, lists["product_names_zh"]))
    return values


def fill(value: Any, values: dict[str, Any]) -> Any:
    """Substitute {placeholders} in strings, recursively; an unknown name is an error."""
    if isinstance(value, str):
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name not in values:
                raise KeyError(f"unknown placeholder {{{name}}} in {value!r}")
            return str(values[name])
        return PLACEHOLDER.sub(one, value)
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    return value


# --- building messages ----------------------------------------------------------------------------

def describe_action(name: str, args: dict) -> str:
    """The confirmation question's action text, as assistant/agent.py words it."""
    details = ", ".join(f"{k}: {json.dumps(v) if isinstance(v, list) else v}"
                        for k, v in args.items())
    return f"{name.replace('_', ' ')} ({details})"


HEADLINES = {"user": user_headline, "order": order_headline, "order2": order_headline,
             "other_order": order_headline, "product": product_headline}


def _result_content(result: Any, values: dict[str, Any]) -> str:
    records = values["_records"]
    if isinstance(result, str):
        if result == "signin":
            return result_text({"user_id": values["user_id"]})
        if result == "confirm":
            return AWAITING_CONFIRMATION
        record = records[result]
        return model_view(result_text({"headline": HEADLINES[result](record), **record}))
    if "error" in result:
        return f"Error: {fill(result['error'], values)}"
    if "json" in result:
        return model_view(result_text(fill(result["json"], values)))
    if "order_after" in result:
        order = copy.deepcopy(records["order"])
        order["status"] = result["order_after"]
        return model_view(result_text({"headline": order_headline(order), **order}))
    raise ValueError(f"unknown result {result!r}")


def build_messages(turns: list[dict], values: dict[str, Any], system: str | None) -> list[dict]:
    messages: list[dict] = [{"role": "system", "content": system}] if system else []
    last_call: dict | None = None
    for n, turn in enumerate(turns):
        if "user" in turn:
            messages.append({"role": "user", "content": fill(turn["user"], values)})
        elif "assistant" in turn:
            text = turn["assistant"]
            if text == "@confirm":
                assert last_call is not None, "@confirm needs a call before it"
                action = describe_action(last_call["name"], last_call["arguments"])
                text = (f"Please confirm: {action}. "
                        "Reply 'yes' to proceed, or tell me what to change.")
            messages.append({"role": "assistant", "content": fill(text, values)})
        elif "call" in turn:
            name, args = turn["call"]
            last_call = {"id": f"call_{n}", "name": name, "arguments": fill(args, values)}
            messages.append({"role": "assistant", "content": "", "tool_calls": [{
                "id": last_call["id"], "type": "function",
                "function": {"name": name, "arguments": last_call["arguments"]}}]})
        elif "result" in turn:
            assert last_call is not None, "a result needs a call before it"
            messages.append({"role": "tool", "tool_call_id": last_call["id"],
                             "name": last_call["name"],
                             "content": _result_content(turn["result"], values)})
        else:
            raise ValueError(f"unknown turn {turn!r}")
    if messages[-1]["role"] not in ("user", "tool"):
        raise ValueError("a case must end with a user message or a tool result")
    return messages


# Tool defaults: an expected value equal to one is dropped (a model may leave it out).
def drop_defaults(name: str, args: dict[str, Any]) -> dict[str, Any]:
    args = dict(args)
    if name == "predict_behavior":
        event = args.get("event", "purchase")
        if args.get("horizon_days") == (90 if event == "churn" else 30):
            args.pop("horizon_days")
        if event == "purchase":
            args.pop("event", None)
    defaults = {"recommend_products": {"k": 5, "exclude_purchased": True},
                "search_knowledge": {"k": 3}, "query_segment": {"limit": 10}}
    for key, default in defaults.get(name, {}).items():
        if args.get(key) == default:
            args.pop(key)
    return args


def visible_text(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        parts.append(m.get("content") or "")
        for call in m.get("tool_calls", []):
            parts.append(json.dumps(call["function"]["arguments"]))
    return "\n".join(parts).casefold()


def ids_visible(expected: list[dict], messages: list[dict]) -> bool:
    """Every id the expected call needs can be read from what the model sees."""
    if not expected:
        return True
    text = visible_text(messages)
    for key, value in expected[0]["arguments"].items():
        if key not in ID_KEYS:
            continue
        for one in value if isinstance(value, list) else [value]:
            needle = re.sub(r"\D", "", one) if key == "order_id" else str(one)
            if needle and needle.casefold() not in text:
                return False
    return True


def render(template: dict, values: dict[str, Any], preludes: dict, system: str | None,
           lang: str) -> dict:
    turns = [t for name in template.get("pre", []) for t in preludes[lang][name]]
    turns += template.get("turns", [])
    if "say" in template:
        turns.append({"user": template["say"]})
    messages = build_messages(turns, values, system)
    expected = []
    if template.get("call"):
        args = fill(template.get("args", {}), values)
        expected = [{"name": template["call"], "arguments": drop_defaults(template["call"], args)}]
    return {"role": template["role"], "kind": template["kind"], "messages": messages,
            "expected": expected}


def instantiate(templates: list[dict], pools: Pools, shop: Shop, preludes: dict, seed: int,
                label: str, system_prompts: dict[str, str | None]) -> list[dict]:
    rng = random.Random(f"{label}-{seed}")
    cases = []
    for template in templates:
        lang = template.get("lang") or ("zh" if template["kind"].startswith("zh") else "en")
        for _ in range(template.get("repeat", 1)):
            for _ in range(MAX_TRIES):
                values = draw_values(pools, shop, template.get("needs", {}), rng)
                case = render(template, values, preludes, system_prompts[template["role"]], lang)
                if ids_visible(case["expected"], case["messages"]):
                    break
            else:
                raise RuntimeError(f"ids never visible for template {template}")
            cases.append(case)
    return cases


# --- set 2: real utterances --------------------------------------------------------------------

def abcd_cases(spec: dict, folder: Path, system: str | None) -> list[dict]:
    dialogues = {d["convo_id"]: d for d in json.loads((folder / "abcd_sample.json").read_text())}
    cases = []
    for entry in spec["dialogues"]:
        convo = dialogues[entry["convo"]]
        turns = convo["original"]
        end = next(i for i, (who, text) in enumerate(turns)
                   if who == "customer" and text.startswith(entry["upto"]))
        messages = [{"role": "system", "content": system}] if system else []
        for who, text in turns[:end + 1]:
            if who in ("customer", "agent"):
                messages.append({"role": "user" if who == "customer" else "assistant",
                                 "content": text})
        values = {"abcd_email": convo["scenario"]["personal"].get("email", "")}
        expected = [{"name": entry["call"], "arguments": fill(entry.get("args", {}), values)}] \
            if entry["call"] else []
        cases.append({"role": "customer", "kind": "abcd_guidelines_ontology:dialogue",
                      "messages": messages, "expected": expected})
    guidelines = json.loads((folder / "guidelines.json").read_text())
    for flow in spec["faq_flows"]:
        for name, sub in guidelines[flow]["subflows"].items():
            item = name.removesuffix(" FAQ").lower()
            for topic in (t.strip() for t in sub["instructions"][-1].split(", ")):
                if not topic:
                    continue
                tool = spec["faq_overrides"].get(topic, "search_knowledge")
                if flow == "Single-Item Query":
                    text = spec["single_item_template"].format(item=item, topic=topic)
                else:
                    text = topic if topic.endswith("?") else topic + "?"
                messages = ([{"role": "system", "content": system}] if system else []) + [
                    {"role": "user", "content": text}]
                cases.append({"role": "customer", "kind": "abcd_guidelines_ontology:faq",
                              "messages": messages,
                              "expected": [{"name": tool, "arguments": {}}]})
    return cases


POLICY_Q = re.compile(r"\b(warrant(y|ee|ies)|guarantee|return policy|refunds?|returns?|"
                      r"ship(ping)? to|ship internationally|international shipping|"
                      r"free shipping|shipping (cost|charge|fee)s?)\b", re.IGNORECASE)
SEEK_Q = re.compile(r"(\bwhere (can|do|could) i (buy|get|purchase|order)\b|"
                    r"\bdo you (sell|carry)\b|\bdo you have (a |an |any )?replacement|"
                    r"\b(i'?m|i am) looking for (a|an|some)\b|\bany recommendations?\b|"
                    r"\bcan you recommend\b)", re.IGNORECASE)
DEICTIC = re.compile(r"\b(this|these|it|its|they|them|one|unit|model|item|product|refill(ed)?|"
                     r"repair(ed)?|fix(ed)?|service)\b", re.IGNORECASE)


def amazon_cases(spec: dict, folder: Path, rng: random.Random, system: str | None) -> list[dict]:
    seen, pools = set(), {"get_product_details": [], "search_knowledge": [],
                          "recommend_products": []}
    with gzip.open(folder / "qa_Appliances.jsonl.gz", "rt") as handle:
        for line in handle:
            row = json.loads(line)
            question = " ".join(html.unescape(row["question"]).split())
            key = question.casefold()
            if key in seen or len(question) > spec["max_chars"] or len(question) < 12 \
                    or "http" in key:
                continue
            seen.add(key)
            policy = POLICY_Q.search(question)
            if policy and "?" not in question[:policy.start()]:
                pools["search_knowledge"].append((row["asin"], question))
            elif policy:
                continue  # a product question first, then a policy one: left out
            elif SEEK_Q.search(question) and not DEICTIC.search(question):
                pools["recommend_products"].append((row["asin"], question))
            elif not SEEK_Q.search(question):
                pools["get_product_details"].append((row["asin"], question))
    cases = []
    for tool, count in spec["per_class"].items():
        for asin, question in rng.sample(pools[tool], min(count, len(pools[tool]))):
            if tool == "get_product_details":
                text = spec["product_template"].format(asin=asin, question=question)
                args = {"product_id": asin}
            else:
                text, args = question, {}
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": text}]
            cases.append({"role": "customer", "kind": f"amazon_qa_appliances:{tool}",
                          "messages": messages, "expected": [{"name": tool, "arguments": args}]})
    return cases


OWN_ORDER = re.compile(r"\b(my|mine)\b|\d{5,}", re.IGNORECASE)
# procedural questions ("what do I have to do to get a refund?") could be policy questions
HOW_TO = re.compile(r"\bhow\b|\bwhat (do|does|should|would) i\b|\bwhere (do|can|could|should) i\b|"
                    r"\bwhere to\b|\binformation\b|"
                    r"\bis it possible\b|\bdo(n'?t| not) know\b|\bwhat'?s the (way|procedure)\b",
                    re.IGNORECASE)
SUPPORT_Q = re.compile(r"\b(how|where|what|when|which|hours?|number|phone)\b", re.IGNORECASE)
OWN_SPECIFIC = re.compile(r"\bmy (order|purchase|package|parcel|shipment|item|delivery|bill|"
                          r"invoice|refund)\b|\d{5,}", re.IGNORECASE)


def bitext_cases(spec: dict, folder: Path, rng: random.Random, system: str | None) -> list[dict]:
    with gzip.open(folder / "llm_qa_with_responses.csv.gz", "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_intent: dict[str, list[str]] = {}
    for row in rows:
        text = " ".join(row["instruction"].split())
        by_intent.setdefault(row["intent"], [])
        if text not in by_intent[row["intent"]]:
            by_intent[row["intent"]].append(text)
    plan = [(intent, "search_knowledge") for intent in spec["search_knowledge"]]
    plan += [(intent, "transfer_to_human_agents") for intent in spec["transfer_to_human_agents"]]
    plan += [(intent, None) for intent in spec["sign_in_first"]]
    cases = []
    for intent, tool in plan:
        pool = by_intent.get(intent, [])
        if tool == "search_knowledge":
            # general questions only: about "my order" they would need a sign-in first
            pool = [t for t in pool if not OWN_SPECIFIC.search(t)]
            if intent == "contact_customer_service":
                pool = [t for t in pool if SUPPORT_Q.search(t)]
        elif tool is None:
            # the customer's own order/refund/invoice/address, not a how-to question
            pool = [t for t in pool if OWN_ORDER.search(t) and not HOW_TO.search(t)]
        for text in rng.sample(sorted(pool), min(spec["per_intent"], len(pool))):
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": text}]
            cases.append({"role": "customer",
                          "kind": f"bitext_customer_service_intents:{intent}",
                          "messages": messages,
                          "expected": [{"name": tool, "arguments": {}}] if tool else []})
    return cases


# --- the two sets -------------------------------------------------------------------------------

def load_spec(path: Path = SPEC_PATH) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def system_prompts(include: bool) -> dict[str, str | None]:
    """The serving system prompt of each role (assistant/prompts), or None: by default the
    cases carry none, and ``shopmind eval toolcalls`` puts the served one first
    (``assistant.toolcall_eval.as_served``), so the files follow the prompts as they change."""
    prompts = resources.files("assistant").joinpath("prompts")
    return {role: prompts.joinpath(f"{role}.md").read_text().strip() if include else None
            for role in ("operator", "customer")}


def numbered(cases: Iterable[dict], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}-{n:04d}", **case} for n, case in enumerate(cases, start=1)]


def other_author(spec: dict, pools: Pools, seed: int, system: dict[str, str | None]) -> list[dict]:
    cases = instantiate(spec["other_author"], pools, pools.set1, spec["preludes"], seed,
                        "other_author", system)
    return numbered(cases, "oa")


def real_utterances(spec: dict, pools: Pools, data_dir: Path, seed: int,
                    system: dict[str, str | None]) -> list[dict]:
    rng = random.Random(f"real-{seed}")
    cases = abcd_cases(spec["abcd"], data_dir / "abcd_guidelines_ontology", system["customer"])
    cases += amazon_cases(spec["amazon_qa"], data_dir / "amazon_qa_appliances", rng,
                          system["customer"])
    cases += bitext_cases(spec["bitext"], data_dir / "bitext_customer_service_intents", rng,
                          system["customer"])
    if pools.set2 is not None:
        cases += instantiate(spec["tau2"], pools, pools.set2, spec["preludes"], seed, "tau2",
                             system)
    return numbered(cases, "ru")


REAL_SOURCES = ["abcd_guidelines_ontology", "amazon_qa_appliances",
                "bitext_customer_service_intents", "tau2_bench_retail"]


def has_real_sources(data_dir: Path) -> bool:
    return all((data_dir / name).is_dir() for name in REAL_SOURCES)


def write_jsonl(path: Path, cases: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for case in cases:
            handle.write(json.dumps(case, ensure_ascii=False) + "\n")


def counts(cases: list[dict]) -> dict[str, int]:
    return dict(sorted(Counter(c["kind"].split(":")[0] for c in cases).items()))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSONL files")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--shop-db", type=Path, default=Path("data/synthetic.duckdb"),
                        help="a shop warehouse whose categories and product titles fill "
                             "query_segment categories and quoted queries (optional)")
    parser.add_argument("--spec", type=Path, default=SPEC_PATH)
    parser.add_argument("--system", action="store_true",
                        help="put the role's system prompt (assistant/prompts/*.md) first in "
                             "every case (the evaluator adds it to cases without one)")
    args = parser.parse_args(argv)

    spec = load_spec(args.spec)
    pools = load_pools(spec, args.data_dir, args.shop_db, args.seed)
    system = system_prompts(args.system)
    manifest: dict[str, Any] = {"seed": args.seed, "data_dir": str(args.data_dir),
                                "shop_db": str(args.shop_db) if args.shop_db.is_file() else None,
                                "notes": pools.notes, "sets": {}}
    first = other_author(spec, pools, args.seed, system)
    write_jsonl(args.out / "other_author.jsonl", first)
    manifest["sets"]["other_author"] = {"cases": len(first), "per_kind": counts(first)}
    if has_real_sources(args.data_dir):
        second = real_utterances(spec, pools, args.data_dir, args.seed, system)
        write_jsonl(args.out / "real_utterances.jsonl", second)
        manifest["sets"]["real_utterances"] = {"cases": len(second), "per_kind": counts(second)}
    else:
        manifest["notes"].append(f"{args.data_dir}: real-utterance sources missing; "
                                 "real_utterances.jsonl not written")
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    for name, info in manifest["sets"].items():
        print(f"{args.out / (name + '.jsonl')}: {info['cases']} cases {info['per_kind']}")
    for note in manifest["notes"]:
        print(f"note: {note}")
    return manifest


if __name__ == "__main__":
    main()
