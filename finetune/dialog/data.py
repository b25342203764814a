"""Training dialogs and the held-out evaluation file for the dialog model, from the tool
registry (tools.registry.tools_for), the phrasing families in phrasings.yaml and the shop's real
entities. Reproducible from a seed. Adding a tool to the registry and phrasings for it in the
YAML adds its data; a registered tool without phrasings still appears in every tool list.

Kinds of examples: a request -> the right call (-> tool result -> grounded answer), a request
missing a required argument -> a clarifying question (-> the answer -> the call), small talk and
out-of-scope -> no call, tool errors -> an explanation, Bitext customer utterances (train split)
-> their tool or question, tau-bench train tasks -> authenticate, look up, confirm, act.
The dev split uses other phrasing families (`dev` templates, Bitext dev.csv, tau-bench dev tasks)
and is written in the evaluation format of DESIGN.md.
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from finetune.dialog.entities import TOPICS, Entities, load_entities
from knowledge.settings import Settings

SLOT = re.compile(r"\{([a-z_.]+)\}")
FREE_TEXT_ARGS = {"question", "summary", "thought"}  # not compared in evaluation
SYSTEM = {
    "operator": "You are shopmind, the assistant of the shop's operators (marketing, CRM, "
                "support). Use the tools to answer with real data.",
    "customer": "You are shopmind, the shop's customer-service assistant. Verify the customer "
                "first, and ask for explicit confirmation (yes) before any change to an order.",
}
# Bitext intents whose first step is to look at an order (when an order id is given).
ORDER_INTENTS = {"cancel_order", "change_order", "track_order", "get_refund", "track_refund"}
FILLERS_BEFORE = ["hey, ", "hi, ", "hello! ", "quick question: ", "ok so ", "um, ", "pls ",
                  "good morning. ", "sorry to bother you, "]
FILLERS_AFTER = [" thanks!", " thx", " asap", " please", " cheers", " :)", " ty", " thank you."]
VERIFY_INTENTS = {"change_shipping_address", "set_up_shipping_address", "delete_account",
                  "edit_account", "switch_account"}


def phrasings() -> dict:
    return yaml.safe_load(resources.files("finetune.dialog").joinpath("phrasings.yaml")
                          .read_text())


def agent_prompt(role: str) -> str | None:
    """The system prompt the agent (assistant/agent.py) sends, so training sees it."""
    path = resources.files("assistant").joinpath(f"prompts/{role}.md")
    return path.read_text().strip() if path.is_file() else None


def role_tools(role: str) -> list[dict]:
    from tools.registry import tools_for

    return [spec.openai_schema() for spec in tools_for(role)]


def call(name: str, args: dict) -> dict:
    return {"role": "assistant", "content": "",
            "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}]}


def said(text: str, role: str = "assistant") -> dict:
    return {"role": role, "content": text}


def result(payload: Any) -> dict:
    return {"role": "tool", "content": json.dumps(payload)}


class DialogData:
    """Draws examples; each is {"role", "kind", "messages", "expected"} where ``expected`` is
    the call list the last assistant turn must make (for evaluation)."""

    def __init__(self, settings: Settings, seed: int):
        self.settings, self.rng = settings, random.Random(seed)
        self.text = phrasings()
        self.ents: Entities = load_entities(settings, seed)
        self.tools = {role: role_tools(role) for role in ("operator", "customer")}

    @cached_property
    def schemas(self) -> dict[str, dict]:
        return {t["function"]["name"]: t["function"]["parameters"]
                for tools in self.tools.values() for t in tools}

    # -- slots -------------------------------------------------------------------------
    def _customer(self) -> tuple[str, dict]:
        uid = self.rng.choice(sorted(self.ents.customers))
        return uid, self.ents.customers[uid]

    def slots(self, tool: str, role: str) -> dict[str, Any]:
        r, e = self.rng, self.ents
        uid, person = self._customer()
        orders = person.get("orders") or sorted(e.orders)[:1]
        a, b = r.randrange(2, 500), r.randrange(2, 60)
        return {
            "user_id": uid if role == "customer" else r.choice(e.user_ids),
            "order_id": r.choice(orders), "email": person["email"],
            "first_name": person["name"]["first_name"], "last_name": person["name"]["last_name"],
            "zip": person["address"]["zip"], "product_id": r.choice(e.product_ids),
            "query": r.choice(TOPICS) if tool == "search_knowledge"
            else r.choice(e.titles + e.categories).lower(),
            "k": r.choice([3, 5, 10]), "horizon_days": r.choice([7, 14, 30, 60, 90]),
            "segment": r.choice(e.segments), "budget": r.choice([100, 250, 500, 1000]),
            "reason": r.choice(["no longer needed", "ordered by mistake"]),
            "expression": r.choice([f"{a} * {b}", f"{a} + {b}", f"({a} + {b}) * 0.9"]),
            "filters.country": r.choice(e.countries),
            "filters.purchased_category": r.choice(e.categories),
            "filters.min_orders": r.randrange(2, 11),
            "filters.inactive_days_min": r.choice([30, 60, 90, 180]),
            "filters.min_spend": r.choice([100, 250, 500, 1000, 2000]),
            "filters.max_orders": r.randrange(1, 4), "filters.max_spend": r.choice([50, 100, 200]),
            "filters.active_within_days": r.choice([7, 14, 30, 60]),
            "max_users": r.choice([50, 100, 200, 500]),
        }

    def vary(self, template: str) -> str:
        """Light, seeded surface noise on a TRAIN template's wording, so the model does not
        tie a tool to one exact surface form. Only the literal words before ``||`` change,
        never a {slot}, so ids, emails and names stay exact: lowercase (30%), drop the final
        punctuation (30%), a filler before (12%) or after (12%), one swap of two adjacent
        letters inside a word of 4+ letters (8%)."""
        r = self.rng
        text, sep, fixed = template.partition("||")
        parts = re.split(r"(\{[a-z_.]+\})", text.strip())  # odd indexes are {slots}
        if r.random() < 0.3:
            parts = [p if i % 2 else p.lower() for i, p in enumerate(parts)]
        if r.random() < 0.3:
            parts[-1] = parts[-1].rstrip(".?!")
        words = [(i, m) for i in range(0, len(parts), 2)
                 for m in re.finditer(r"[A-Za-z]{4,}", parts[i])]
        if words and r.random() < 0.08:
            i, m = r.choice(words)
            j = r.randrange(m.start() + 1, m.end() - 2)  # keep the first and last letters
            parts[i] = parts[i][:j] + parts[i][j + 1] + parts[i][j] + parts[i][j + 2:]
        text = "".join(parts)
        if r.random() < 0.12:
            text = r.choice(FILLERS_BEFORE) + text
        if r.random() < 0.12:
            text += r.choice(FILLERS_AFTER)
        return f"{text} {sep}{fixed}" if sep else text

    def fill(self, template: str, tool: str, role: str) -> tuple[str, dict]:
        """Template -> (user text, call arguments)."""
        text, _, fixed = template.partition("||")
        values = self.slots(tool, role)
        used = SLOT.findall(text)
        text = SLOT.sub(lambda m: str(values[m.group(1)]), text).strip()
        props = self.schemas.get(tool, {}).get("properties", {})
        args: dict[str, Any] = {}
        for name in used:
            if name.startswith("filters."):
                args.setdefault("filters", {})[name.split(".", 1)[1]] = values[name]
            elif name in props:
                args[name] = values[name]
        for pair in filter(None, (p.strip() for p in fixed.split(";"))):
            key, _, value = pair.partition("=")
            args[key.strip()] = value.strip()
        if "question" in props and "question" not in args:
            args["question"] = text
        if "summary" in props and "summary" not in args:
            args["summary"] = f"Customer says: {text}"
        return text, args

    # -- example kinds -----------------------------------------------------------------
    def request(self, role: str, tool: str, split: str) -> dict:
        """One request -> its call; in training half also get the result and an answer."""
        template = self.rng.choice(self.text[role][tool][split])
        if split == "train":
            template = self.vary(template)
        text, args = self.fill(template, tool, role)
        messages = [said(text, "user"), call(tool, args)]
        expected = [{"name": tool, "arguments": _comparable(args)}]
        if split == "train" and self.rng.random() < 0.5:
            payload, answer = self.outcome(tool, args)
            messages += [result(payload), said(answer)]
        return {"role": role, "kind": "call", "messages": messages, "expected": expected}

    def outcome(self, tool: str, args: dict) -> tuple[dict, str]:
        """A plausible tool result and an answer grounded in it (or an error, 15%)."""
        r = self.rng
        if r.random() < 0.15:
            what = next((f"{k} {v}" for k, v in args.items() if k.endswith("id")), "request")
            error = f"{tool}: unknown {what}; check it and try again"
            return ({"error": error},
                    f"Sorry, that did not work: {error}. Could you check the details?")
        maker = OUTCOMES.get(tool)
        if maker is None:
            return {"ok": True}, "Done. Is there anything else I can help with?"
        return maker(r, args, self.ents)

    def clarify(self, role: str, tool: str) -> dict:
        """A request missing its key argument -> a question (-> the answer -> the call)."""
        vague = self.vary(self.rng.choice(self.text[role][tool]["vague"]))
        text, fixed = self.fill(vague, tool, role)
        required = self.schemas.get(tool, {}).get("required", [])
        ask = self.text["ask"].get(tool) or self.text["ask"][required[0]]
        messages = [said(text, "user"), said(ask)]
        if self.rng.random() < 0.6:
            _, full = self.fill(self.rng.choice(self.text[role][tool]["train"]), tool, role)
            missing = {k: v for k, v in full.items() if k not in fixed and k != "question"}
            reply = ", ".join(str(v) for v in missing.values()) or "yes"
            messages += [said(reply, "user"), call(tool, {**fixed, **missing})]
            return {"role": role, "kind": "clarify+call", "messages": messages,
                    "expected": [{"name": tool, "arguments": _comparable({**fixed, **missing})}]}
        return {"role": role, "kind": "clarify", "messages": messages, "expected": []}

    def chitchat(self, split: str) -> dict:
        text, answer = self.rng.choice(self.text["chitchat"][split])
        text = self.vary(text) if split == "train" else text
        messages = [said(text, "user")] + ([said(answer)] if answer else [])
        return {"role": self.rng.choice(["operator", "customer"]), "kind": "no-call",
                "messages": messages, "expected": []}

    @cached_property
    def bitext(self) -> dict[str, list[dict]]:
        folder = self.settings.data_dir / "bitext_customer_service_intents"
        out = {}
        for split, name in (("train", "train.csv"), ("dev", "dev.csv")):
            path = folder / name
            out[split] = list(csv.DictReader(path.open())) if path.is_file() else []
        return out

    def bitext_example(self, row: dict) -> dict:
        """A real customer utterance -> the first step a support agent takes."""
        text, intent = row["utterance"], row["intent"]
        if intent in ORDER_INTENTS and row["entity_type"] == "order_id":
            args = {"order_id": row["entity_value"]}
            messages, expected = [said(text, "user"), call("get_order_details", args)], \
                [{"name": "get_order_details", "arguments": args}]
        elif intent in ORDER_INTENTS:
            messages, expected = [said(text, "user"), said(self.text["ask"]["order_id"])], []
        elif intent in VERIFY_INTENTS:
            messages, expected = [said(text, "user"), said(self.text["ask"]["verify"])], []
        elif intent == "contact_human_agent":
            args = {"summary": f"Customer asks for a human agent: {text}"}
            messages = [said(text, "user"), call("transfer_to_human_agents", args)]
            expected = [{"name": "transfer_to_human_agents", "arguments": {}}]
        else:
            messages = [said(text, "user"), call("search_knowledge", {"query": text})]
            expected = [{"name": "search_knowledge", "arguments": {}}]
        return {"role": "customer", "kind": f"bitext:{intent}", "messages": messages,
                "expected": expected}

    @cached_property
    def tau_tasks(self) -> dict[str, list[dict]]:
        folder = self.settings.data_dir / "tau_bench_retail"
        return {split: json.loads((folder / f"tasks_{split}.json").read_text())
                if (folder / f"tasks_{split}.json").is_file() else []
                for split in ("train", "dev")}

    def tau_flow(self, task: dict) -> dict | None:
        """authenticate -> look up the order -> confirm -> act, for the task's first action."""
        if not task["actions"] or task["user_id"] not in self.ents.customers:
            return None
        action = task["actions"][0]
        order_id = action["kwargs"].get("order_id")
        if order_id not in self.ents.orders:
            return None
        person = self.ents.customers[task["user_id"]]
        order = self.ents.orders[order_id]
        verb = action["name"].split("_")[0]
        messages = [
            said(f"Hi, I want to {verb} something in order {order_id}. "
                 f"My email is {person['email']}.", "user"),
            call("find_user_id_by_email", {"email": person["email"]}),
            result(task["user_id"]),
            call("get_order_details", {"order_id": order_id}),
            result({"order_id": order_id, "status": order["status"],
                    "items": [{"name": i["name"], "item_id": i["item_id"]}
                              for i in order["items"]]}),
            said(f"I found order {order_id} ({order['status']}). To confirm, I will "
                 f"{action['name'].replace('_', ' ')} with "
                 f"{json.dumps({k: v for k, v in action['kwargs'].items() if k != 'order_id'})}."
                 " Shall I proceed (yes/no)?"),
            said("yes", "user"),
            call(action["name"], action["kwargs"]),
        ]
        return {"role": "customer", "kind": "tau-flow", "messages": messages,
                "expected": [{"name": action["name"], "arguments": action["kwargs"]}]}

    def after_result(self, role: str, tool: str) -> dict:
        """A tool result is in: the right move is an answer, not another call."""
        example = self.request(role, tool, "dev")
        payload, _ = self.outcome(tool, example["messages"][1]["tool_calls"][0]["function"]
                                  ["arguments"])
        example["messages"] = example["messages"][:2] + [result(payload)]
        return {**example, "kind": "answer-result", "expected": []}

    # -- splits ------------------------------------------------------------------------
    def phrased_tools(self, role: str, need: str = "train") -> list[str]:
        names = {t["function"]["name"] for t in self.tools[role]}
        return [t for t, v in self.text[role].items() if t in names and need in v]

    def train_examples(self, n: int) -> list[dict]:
        makers: list[tuple[float, Callable[[], dict | None]]] = [
            # Bitext maps most intents to search_knowledge: more than ~10% and the model
            # answers every customer request with a knowledge search.
            (0.58, lambda: self.request(*self._role_tool("train"), "train")),
            (0.12, lambda: self.clarify(*self._role_tool("vague"))),
            (0.12, lambda: self.chitchat("train")),
            (0.10, lambda: self.bitext_example(self.rng.choice(self.bitext["train"]))
             if self.bitext["train"] else None),
            (0.08, lambda: self.tau_flow(self.rng.choice(self.tau_tasks["train"]))
             if self.tau_tasks["train"] else None),
        ]
        weights = [w for w, _ in makers]
        out: list[dict] = []
        while len(out) < n:
            example = self.rng.choices(makers, weights)[0][1]()
            if example is not None:
                out.append(self.with_system(example))
        return out

    def _role_tool(self, need: str) -> tuple[str, str]:
        role = self.rng.choice(["operator", "customer"])
        return role, self.rng.choice(self.phrased_tools(role, need))

    def with_system(self, example: dict) -> dict:
        """A third of the dialogs each: the template's default system prompt, a short role
        prompt, the agent's own prompt (assistant/prompts/ROLE.md) when it exists."""
        prompt = self.rng.choice([None, SYSTEM[example["role"]], agent_prompt(example["role"])])
        if prompt:
            example["messages"] = [said(prompt, "system")] + example["messages"]
        return example

    def dev_cases(self, per_template: int = 3, bitext: int = 60) -> list[dict]:
        cases = []
        for role in ("operator", "customer"):
            for tool in self.phrased_tools(role, "dev"):
                for _ in self.text[role][tool]["dev"]:
                    cases += [self.request(role, tool, "dev") for _ in range(per_template)]
                cases.append(self.after_result(role, tool))
        cases += [self.chitchat("dev") for _ in range(2 * len(self.text["chitchat"]["dev"]))]
        rows = self.bitext["dev"]
        cases += [self.bitext_example(row) for row in self.rng.sample(rows, min(bitext,
                                                                                 len(rows)))]
        cases += list(filter(None, map(self.tau_flow, self.tau_tasks["dev"])))
        for case in cases:  # the eval file ends at the turn to predict
            case["messages"] = _until_last_prediction(case["messages"], bool(case["expected"]))
        return [{"id": f"{c['role'][:2]}-{i:04d}", **c} for i, c in enumerate(cases)]


def _until_last_prediction(messages: list[dict], calls: bool) -> list[dict]:
    """Drop the last assistant turn (the one to predict) and anything after it."""
    last = max(i for i, m in enumerate(messages) if m["role"] != "assistant") + 1 \
        if messages[-1]["role"] == "assistant" else len(messages)
    return messages[:last] if calls or messages[-1]["role"] == "assistant" else messages


def _comparable(args: dict) -> dict:
    return {k: v for k, v in args.items() if k not in FREE_TEXT_ARGS}


def _pick(r: random.Random, ents: Entities, n: int) -> list[dict]:
    return [{"title": t, "price": round(r.uniform(3, 80), 2)} for t in r.sample(ents.titles,
                                                                               min(n, 3))]


OUTCOMES: dict[str, Callable[[random.Random, dict, Entities], tuple[dict, str]]] = {
    "predict_behavior": lambda r, a, e: (
        (p := {"probability": round(r.random(), 2), "percentile": r.randrange(1, 100)}),
        f"User {a['user_id']} has a {p['probability']:.0%} probability "
        f"({a.get('event', 'purchase')}, next {a.get('horizon_days', 30)} days), "
        f"percentile {p['percentile']}."),
    "get_user_profile": lambda r, a, e: (
        (p := {"orders": r.randrange(1, 40), "spend": round(r.uniform(20, 5000), 2),
               "top_categories": r.sample(e.categories, min(2, len(e.categories)))}),
        f"User {a['user_id']} placed {p['orders']} orders for {p['spend']} in total; top "
        f"categories: {', '.join(p['top_categories'])}."),
    "recommend_products": lambda r, a, e: (
        (p := {"items": _pick(r, e, a.get("k", 3))}),
        "Here are my suggestions: " + "; ".join(f"{i['title']} ({i['price']})"
                                                 for i in p["items"]) + "."),
    "query_segment": lambda r, a, e: (
        (p := {"count": r.randrange(0, 3000), "sql": "SELECT ..."}),
        f"{p['count']} customers match."),
    "suggest_intervention": lambda r, a, e: (
        (p := {"treat": r.random() < 0.6, "uplift": round(r.uniform(-0.02, 0.1), 3)}),
        f"{'Yes, treat' if p['treat'] else 'No, do not treat'}: estimated uplift "
        f"{p['uplift']:+.1%}."),
    "search_knowledge": lambda r, a, e: (
        (p := {"passages": [{"text": f"Our {a['query']} policy: see the details within 30 "
                                     "days of delivery.", "source": "policy"}]}),
        f"According to our policy: {p['passages'][0]['text']}"),
    "get_order_details": lambda r, a, e: (
        (p := {"order_id": a["order_id"], "status": r.choice(["pending", "delivered",
                                                               "processed"])}),
        f"Order {a['order_id']} is {p['status']}."),
    "find_user_id_by_email": lambda r, a, e: (
        (p := {"user_id": r.choice(sorted(e.customers))}),
        "Thank you, I found your account. How can I help you today?"),
    "find_user_id_by_name_zip": lambda r, a, e: (
        (p := {"user_id": r.choice(sorted(e.customers))}),
        "Thanks, you are verified. What can I do for you?"),
    "list_all_product_types": lambda r, a, e: (
        (p := {"products": r.sample(e.titles, min(4, len(e.titles)))}),
        "We sell: " + ", ".join(p["products"]) + "."),
    "calculate": lambda r, a, e: (
        (p := {"result": round(eval(a["expression"], {"__builtins__": {}}), 2)}),  # noqa: S307 our own template arithmetic
        f"That is {p['result']}."),
    "transfer_to_human_agents": lambda r, a, e: (
        {"status": "transferred"}, "I've transferred you to a human agent; they will be with "
                                   "you shortly."),
}


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path
