"""Training dialogs and the held-out evaluation file for the dialog model, from the tool
registry (tools.registry.role_tools), the phrasing families in phrasings.yaml and the shop's real
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
from finetune.dialog.order_changes import (
    ADDRESS_KEYS,
    CHANGE_TOOLS,
    LIST_SLOTS,
    ORDER_STATUS_FOR,
    can_request,
    change_slots,
)
from finetune.dialog.outcomes import confirmed, outcome, with_headline
from finetune.dialog.spoken import spoken
from knowledge.segments import COUNTRY_ALIASES
from knowledge.settings import Settings
from tools.model_view import AWAITING_CONFIRMATION, model_view, result_text
from tools.registry import SHORT_PROMPTS as SYSTEM
from tools.registry import role_tools

SLOT = re.compile(r"\{([a-z_.]+)\}")
FREE_TEXT_ARGS = {"question", "summary", "thought"}  # not compared in evaluation
# Bitext intents whose first step is to look at an order (when an order id is given).
ORDER_INTENTS = {"cancel_order", "change_order", "track_order", "get_refund", "track_refund"}
FILLERS_BEFORE = ["hey, ", "hi, ", "hello! ", "quick question: ", "ok so ", "um, ", "pls ",
                  "good morning. ", "sorry to bother you, "]
FILLERS_AFTER = [" thanks!", " thx", " asap", " please", " cheers", " :)", " ty", " thank you."]
# Requests that go on to the tool result and the answer. Quoting the result's headline is
# learned fast; the training tokens are better spent on choosing the call.
ANSWERED_SHARE = 0.25
# Customer requests that come after a sign-in turn, as every request does in the product
# (a 20-minute run without them asked "which order?" when the order id was right there).
SIGNED_IN_SHARE = 0.5
VERIFY_INTENTS = {"change_shipping_address", "set_up_shipping_address", "delete_account",
                  "edit_account", "switch_account"}
# Customer tools that need a signed-in customer (tools/customer_service.py refuses them before):
# a request for one comes after a sign-in turn, carries the e-mail in the same message (sign in
# first, then the request: MULTI_INTENT_SHARE), or gets "please verify" (the rest).
SIGNED_IN_TOOLS = {"get_user_details", "get_order_details", "cancel_pending_order",
                   "modify_pending_order_address", "modify_user_address",
                   "modify_pending_order_payment", "modify_pending_order_items",
                   "return_delivered_order_items", "exchange_delivered_order_items"}
MULTI_INTENT_SHARE = 0.3
# Training requests, clarifications and small talk drawn from the Chinese phrasings.
ZH_SHARE = 0.15
# A numeric slot written in words when the template allows ("in the next six weeks").
WORDS_SHARE = 0.35
# Operator conversations that go on with a follow-up referring back ("and for 16029?").
FOLLOW_UP_SHARE = 0.08
# Change requests on an order that first look the order up (the result in the context), then
# make the change: after an order's details the model must not stop at quoting them.
LOOKUP_FIRST_SHARE = 0.35
# A change request (CHANGE_TOOLS) is drawn as often as a tool asked in this many ways, though
# each has 11-14 phrasings: drawn by their own counts, a write tool was 1 in 90 training dialogs
# and the quick model answered address, payment and cancel requests with a look-up.
CHANGE_REQUEST_WEIGHT = 25


def phrasings() -> dict:
    """phrasings.yaml, with the Chinese training phrasings of phrasings_zh.yaml beside each
    English family as ``train_zh`` / ``vague_zh`` (drawn ZH_SHARE of the time, see
    ``DialogData.family``)."""
    folder = resources.files("finetune.dialog")
    text = yaml.safe_load(folder.joinpath("phrasings.yaml").read_text())
    chinese = yaml.safe_load(folder.joinpath("phrasings_zh.yaml").read_text())
    for role in ("operator", "customer"):
        for tool, families in chinese.get(role, {}).items():
            for split, templates in families.items():
                text[role][tool][f"{split}_zh"] = templates
    text["chitchat"]["train_zh"] = chinese.get("chitchat", {}).get("train", [])
    return text


def agent_prompt(role: str) -> str | None:
    """The system prompt the agent (assistant/agent.py) sends, so training sees it."""
    path = resources.files("assistant").joinpath(f"prompts/{role}.md")
    return path.read_text().strip() if path.is_file() else None


def call(name: str, args: dict) -> dict:
    return {"role": "assistant", "content": "",
            "tool_calls": [{"type": "function", "function": {"name": name, "arguments": args}}]}


def in_schema_order(args: dict, schema: dict, defs: dict | None = None) -> dict:
    """``args`` with its keys (nested objects too) in the order of the schema's properties:
    the order grammar-constrained decoding enforces (assistant/backends/constrain.py). A call
    trained in another order cannot be written as trained at serving time: a key the model
    learned to put after the one the grammar forces first is then never written."""
    defs = defs if defs is not None else schema.get("$defs", {})
    props = schema.get("properties", {})
    rank = {name: i for i, name in enumerate(props)}
    out = {}
    for key in sorted(args, key=lambda k: rank.get(k, len(rank))):
        value, sub = args[key], _object_schema(props.get(key, {}), defs)
        out[key] = in_schema_order(value, sub, defs) if isinstance(value, dict) and sub else value
    return out


def _object_schema(schema: dict, defs: dict) -> dict:
    """The object schema behind a property: itself, its $ref, or the $ref in its anyOf."""
    for option in [schema, *schema.get("anyOf", [])]:
        if "$ref" in option:
            return defs.get(option["$ref"].rsplit("/", 1)[-1], {})
        if "properties" in option:
            return option
    return {}


def said(text: str, role: str = "assistant") -> dict:
    return {"role": role, "content": text}


def result(payload: Any) -> dict:
    """A tool message exactly as the agent shows it to the model."""
    return {"role": "tool", "content": model_view(result_text(payload))}


class DialogData:
    """Draws examples; each is {"role", "kind", "messages", "expected"} where ``expected`` is
    the call list the last assistant turn must make (for evaluation)."""

    def __init__(self, settings: Settings, seed: int):
        self.settings, self.rng = settings, random.Random(seed)
        self.text = phrasings()
        self.ents: Entities = load_entities(settings, seed)
        self.tools = {role: role_tools(role) for role in ("operator", "customer")}
        self.pinned: tuple[str, dict] | None = None  # who signed in, while their request is filled

    @cached_property
    def schemas(self) -> dict[str, dict]:
        return {t["function"]["name"]: t["function"]["parameters"]
                for tools in self.tools.values() for t in tools}

    @cached_property
    def stated_defaults(self) -> dict[str, dict]:
        """tool -> its enumerated arguments with a default (``event: purchase``), which every
        call states (see ``as_served``)."""
        return {tool: {name: prop["default"] for name, prop in schema.get("properties", {}).items()
                       if "enum" in prop and prop.get("default") is not None}
                for tool, schema in self.schemas.items()}

    @cached_property
    def country_names(self) -> list[str]:
        """The shop's countries and the short names the segment tool also understands (UK, US)."""
        have = {c.lower() for c in self.ents.countries}
        return self.ents.countries + [alias.upper() for alias, country in COUNTRY_ALIASES.items()
                                      if country in have and len(alias) <= 3]

    def family(self, families: dict, split: str) -> list:
        """The phrasings of ``split``; a training draw takes the Chinese ones ZH_SHARE of the
        time (when there are any)."""
        chinese = families.get(f"{split}_zh")
        if split != "dev" and chinese and self.rng.random() < ZH_SHARE:
            return chinese
        return families[split]

    # -- slots -------------------------------------------------------------------------
    def _customer(self, tool: str | None = None) -> tuple[str, dict]:
        """A customer; for a change request, one who can make it (an order in the status the
        change needs), where there is one."""
        uids = self._able_to_request.get(tool) or self._able_to_request[None]
        uid = self.rng.choice(uids)
        return uid, self.ents.customers[uid]

    @cached_property
    def _able_to_request(self) -> dict[str | None, list[str]]:
        """Customer ids who can make each change request (None: every customer), sorted."""
        everyone = sorted(self.ents.customers)
        able = {tool: [u for u in everyone if can_request(tool, self.ents.customers[u], self.ents)]
                for tool in CHANGE_TOOLS}
        return {None: everyone, **able}

    def slots(self, tool: str, role: str) -> dict[str, Any]:
        r, e = self.rng, self.ents
        uid, person = self.pinned or self._customer()
        orders = person.get("orders") or sorted(e.orders)[:1]
        a, b = r.randrange(2, 500), r.randrange(2, 60)
        changes = change_slots(r, tool, person, e) if tool in CHANGE_TOOLS else {}
        return {
            "user_id": uid if role == "customer" else self.operator_user_id(),
            "order_id": r.choice(orders), "email": person["email"],
            "first_name": person["name"]["first_name"], "last_name": person["name"]["last_name"],
            "zip": person["address"]["zip"], "product_id": r.choice(e.product_ids),
            "query": r.choice(TOPICS) if tool == "search_knowledge"
            else r.choice(e.titles + e.categories).lower(),
            "k": r.choice([3, 5, 6, 10, 12]),
            "horizon_days": r.choice([7, 14, 21, 30, 42, 60, 90, 180]),
            "segment": r.choice(e.segments), "budget": r.choice([100, 250, 500, 1000, 2000, 2500]),
            "reason": r.choice(["no longer needed", "ordered by mistake"]),
            "expression": r.choice([f"{a} * {b}", f"{a} + {b}", f"({a} + {b}) * 0.9"]),
            "filters.country": r.choice(self.country_names),
            "filters.purchased_category": r.choice(e.categories),
            "filters.min_orders": r.randrange(2, 11),
            "filters.inactive_days_min": r.choice([30, 60, 90, 180]),
            "filters.min_spend": r.choice([100, 250, 500, 1000, 2000]),
            "filters.max_orders": r.randrange(1, 4), "filters.max_spend": r.choice([50, 100, 200]),
            "filters.active_within_days": r.choice([7, 14, 30, 60]),
            "max_users": r.choice([50, 100, 200, 500]),
        } | changes

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

    def operator_user_id(self) -> str:
        """A customer id as the operator's shop writes it: the warehouse's own ids, or the
        numeric and prefixed ids other shops use (Shopify, Online Retail: "16029")."""
        r = self.rng
        return r.choice([
            lambda: r.choice(self.ents.user_ids),
            lambda: str(r.randrange(10_000, 100_000)),
            lambda: str(r.randrange(100, 10_000_000)),
            lambda: f"{r.choice(['C', 'CU', 'cust-', 'cus_', 'u'])}{r.randrange(1000, 999_999)}",
        ] + [lambda: r.choice(self.ents.user_ids)] * 2)()

    def fill(self, template: str, tool: str, role: str, words: bool = False,
             ) -> tuple[str, dict]:
        """Template -> (user text, call arguments). ``words``: some numbers are written the
        way people say them ("six weeks", "half a dozen", "a grand"); the argument stays the
        number."""
        text, _, fixed = template.partition("||")
        values = self.slots(tool, role)
        used = SLOT.findall(text)
        if words:
            text = spoken(text, values, self.rng, WORDS_SHARE)
        text = SLOT.sub(lambda m: str(values[m.group(1)]), text).strip()
        props = self.schemas.get(tool, {}).get("properties", {})
        args: dict[str, Any] = {}
        for name in used:
            if name == "address":
                args.update({k: values["address_fields"][k] for k in ADDRESS_KEYS})
            elif name in LIST_SLOTS and LIST_SLOTS[name] in props:
                args[LIST_SLOTS[name]] = [values[name]]
            elif name.startswith("filters."):
                args.setdefault("filters", {})[name.split(".", 1)[1]] = values[name]
            elif name in props:
                args[name] = values[name]
        for pair in filter(None, (p.strip() for p in fixed.split(";"))):
            key, _, value = pair.partition("=")
            args[key.strip()] = value.strip()
        required = self.schemas.get(tool, {}).get("required", [])
        if role == "customer" and "user_id" in required and "user_id" not in args:
            args["user_id"] = values["user_id"]  # the signed-in customer's, from the sign-in
        if "question" in props and "question" not in args:
            args["question"] = text
        if "summary" in props and "summary" not in args:
            args["summary"] = f"Customer says: {text}"
        return text, args

    # -- example kinds -----------------------------------------------------------------
    def request(self, role: str, tool: str, split: str) -> dict:
        """One request -> its call. In training, some also get the result and the answer; a
        held write call may go on to the customer's yes, the result and its headline."""
        template = self.rng.choice(self.family(self.text[role][tool], split))
        opening: list[dict] = []
        needs_sign_in = role == "customer" and tool in SIGNED_IN_TOOLS
        how = "alone"
        if split == "train":
            template = self.vary(template)
            if needs_sign_in:
                how = self.rng.choices(["signed_in", "together", "verify"],
                                       [SIGNED_IN_SHARE, MULTI_INTENT_SHARE,
                                        1 - SIGNED_IN_SHARE - MULTI_INTENT_SHARE])[0]
            elif role == "customer" and not tool.startswith("find_user_id") and \
                    self.rng.random() < SIGNED_IN_SHARE:
                how = "signed_in"
        elif needs_sign_in:  # dev: the product's order, signed in first
            how = "signed_in"
        if how != "alone":
            self.pinned = self._customer(tool)
        if how == "signed_in":
            opening = self.sign_in(self.pinned[0])
        text, args = self.fill(template, tool, role, words=split == "train")
        pinned, self.pinned = self.pinned, None
        messages = opening + [said(text, "user"), call(tool, args)]
        if how == "together":  # the e-mail in the same message: sign in, then the request
            messages = self.sign_in_together(pinned, text) + [call(tool, args)]
        if how == "verify":  # not signed in: ask for the identity (-> it -> sign in -> call)
            messages = [said(text, "user"), said(self.text["ask"]["verify"])]
            if self.rng.random() < 0.5:
                return {"role": role, "kind": "verify", "messages": messages, "expected": []}
            identity, sign_in_call = self.identity(pinned)
            messages += [said(identity, "user"), *sign_in_call, call(tool, args)]
        if split == "train" and tool in ORDER_STATUS_FOR and messages[-1].get("tool_calls") \
                and self.rng.random() < LOOKUP_FIRST_SHARE:
            messages[-1:] = self.looked_up(args["order_id"]) + [call(tool, args)]
        expected = [{"name": tool, "arguments": _comparable(args)}]
        if split == "train" and role == "operator" and self.rng.random() < FOLLOW_UP_SHARE:
            return self.follow_up(tool, args, messages)
        if split == "train" and self.rng.random() < ANSWERED_SHARE:
            payload, answer = self.outcome(tool, args)
            messages += [result(payload), said(answer)]
            if payload == AWAITING_CONFIRMATION and self.rng.random() < 0.6:
                done = confirmed(self.rng, tool, args, self.ents)  # the agent ran it after a yes
                messages += [said("yes", "user"), call(tool, args), result(done),
                             said(done["headline"])]
        return {"role": role, "kind": "call", "messages": messages, "expected": expected}

    def looked_up(self, order_id: str) -> list[dict]:
        """The order's details call and its result, before a change to it."""
        args = {"order_id": order_id}
        payload, _ = outcome(self.rng, "get_order_details", args, self.ents)
        return [call("get_order_details", args), result(payload)]

    def identity(self, person: tuple[str, dict]) -> tuple[str, list[dict]]:
        """(what a customer writes to identify themselves, the sign-in call and its result)."""
        uid, record = person
        if self.rng.random() < 0.7:
            text = self.rng.choice(["my email is {e}", "{e}", "it's {e}", "email: {e}",
                                    "sure, {e}", "the account email is {e}"]).format(
                e=record["email"])
            sign_in = call("find_user_id_by_email", {"email": record["email"]})
        else:
            name, zip_ = record["name"], record["address"]["zip"]
            text = self.rng.choice(["{f} {l}, zip {z}", "I'm {f} {l}, {z}",
                                    "name {f} {l}, postcode {z}"]).format(
                f=name["first_name"], l=name["last_name"], z=zip_)
            sign_in = call("find_user_id_by_name_zip", {"first_name": name["first_name"],
                                                        "last_name": name["last_name"],
                                                        "zip": zip_})
        return text, [sign_in, result({"user_id": uid})]

    def sign_in_together(self, person: tuple[str, dict], request: str) -> list[dict]:
        """A first message that carries the identity and the request: the model signs in
        first (the order tools refuse an anonymous customer), then makes the request's call."""
        identity, sign_in = self.identity(person)
        glue = self.rng.choice(["{r} {i}.", "{i}. {r}", "{r} ({i})", "Hi, {i}. {r}",
                                "{r}. {i}"])
        text = glue.format(r=request.rstrip(" ."), i=identity[0].upper() + identity[1:])
        return [said(text, "user"), *sign_in]

    def follow_up(self, tool: str, args: dict, messages: list[dict]) -> dict:
        """An answered operator request, then a follow-up that refers back: another customer,
        another horizon or event, more results. The new call keeps what was not changed."""
        payload, answer = outcome(self.rng, tool, args, self.ents)  # no error: a real referent
        changes = [("user_id", self.operator_user_id(), ["And for {v}?", "same for {v}",
                                                         "what about customer {v}?",
                                                         "now do {v}", "and {v}?"])]
        if tool == "predict_behavior":
            changes += [("horizon_days", self.rng.choice([14, 60, 90, 180]),
                         ["now over {v} days", "and over {v} days?", "what about {v} days?"]),
                        ("event", "churn", ["what about churn instead?", "and the churn risk?"])]
        if tool == "recommend_products":
            changes.append(("k", self.rng.choice([10, 12, 20]),
                            ["show me {v} instead", "give me {v} of them", "{v} please"]))
        changes = [c for c in changes if c[0] in args or c[0] in ("event", "horizon_days")]
        if not changes:
            return {"role": "operator", "kind": "call", "messages": messages,
                    "expected": [{"name": tool, "arguments": _comparable(args)}]}
        key, value, texts = self.rng.choice(changes)
        new_args = {**args, key: value}
        text = self.rng.choice(texts).format(v=value)
        messages = messages + [result(payload), said(answer), said(text, "user"),
                               call(tool, new_args)]
        return {"role": "operator", "kind": "follow-up", "messages": messages,
                "expected": [{"name": tool, "arguments": _comparable(new_args)}]}

    def sign_in(self, user_id: str) -> list[dict]:
        """The turn a customer conversation starts with in the product: the customer signs
        in (email, or name + zip), then asks in their next message."""
        tool = self.rng.choice(["find_user_id_by_email", "find_user_id_by_name_zip"])
        template = self.vary(self.rng.choice(self.text["customer"][tool]["train"]))
        text, args = self.fill(template, tool, "customer")
        _, answer = outcome(self.rng, tool, args, self.ents)
        return [said(text, "user"), call(tool, args), result({"user_id": user_id}), said(answer)]

    def outcome(self, tool: str, args: dict) -> tuple[dict, str]:
        """A plausible tool result and an answer grounded in it (or an error, 15%)."""
        r = self.rng
        if r.random() < 0.15:
            what = next((f"{k} {v}" for k, v in args.items() if k.endswith("id")), "request")
            error = f"{tool}: unknown {what}; check it and try again"
            return ({"error": error},
                    f"I couldn't find {what}. Could you check it and send it again?")
        return outcome(r, tool, args, self.ents)

    def clarify(self, role: str, tool: str) -> dict:
        """A request missing its key argument -> a question (-> the answer -> the call). The
        answer gives only the missing required arguments, so the call adds nothing else."""
        vague = self.vary(self.rng.choice(self.family(self.text[role][tool], "vague")))
        text, fixed = self.fill(vague, tool, role)
        required = self.schemas.get(tool, {}).get("required", [])
        ask = self.text["ask"].get(tool) or self.text["ask"][required[0]]
        messages = [said(text, "user"), said(ask)]
        if self.rng.random() < 0.6:
            values = self.slots(tool, role)
            # recommend_products requires neither of its two and asks "for which customer,
            # or what kind of product?": an operator may answer either, a customer a query
            needed = required or [self.rng.choice(["user_id", "query"])
                                  if role == "operator" else "query"]
            missing = {k: values[k] for k in needed if k not in fixed}
            reply = ", ".join(str(v) for v in missing.values()) or "yes"
            messages += [said(reply, "user"), call(tool, {**fixed, **missing})]
            return {"role": role, "kind": "clarify+call", "messages": messages,
                    "expected": [{"name": tool, "arguments": _comparable({**fixed, **missing})}]}
        return {"role": role, "kind": "clarify", "messages": messages, "expected": []}

    def chitchat(self, split: str) -> dict:
        text, answer = self.rng.choice(self.family(self.text["chitchat"], split))
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
        """The product's flow up to a task's first action: sign in -> look up the order -> the
        write call (which the agent then holds for the customer's yes, see ``request``)."""
        if not task["actions"] or task["user_id"] not in self.ents.customers:
            return None
        action = task["actions"][0]
        order_id = action["kwargs"].get("order_id")
        if order_id not in self.ents.orders:
            return None
        person = self.ents.customers[task["user_id"]]
        order = self.ents.orders[order_id]
        details = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in action["kwargs"].items()
                            if k != "order_id")
        messages = [
            said(f"Hi, I want to {action['name'].split('_')[0]} order {order_id}"
                 f"{f' ({details})' if details else ''}. My email is {person['email']}.", "user"),
            call("find_user_id_by_email", {"email": person["email"]}),
            result({"user_id": task["user_id"]}),
            call("get_order_details", {"order_id": order_id}),
            result(with_headline("get_order_details", order)),
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
            (0.67, lambda: self.request(*self._role_tool("train"), "train")),
            # At 12% the quick model asked "which order?" when the request carried the id.
            (0.07, lambda: self.clarify(*self._role_tool("vague"))),
            (0.12, lambda: self.chitchat("train")),
            (0.10, lambda: self.bitext_example(self.rng.choice(self.bitext["train"]))
             if self.bitext["train"] else None),
            # ~550 tokens each (an order record): a sixth of the training tokens at 4%
            (0.04, lambda: self.tau_flow(self.rng.choice(self.tau_tasks["train"]))
             if self.tau_tasks["train"] else None),
        ]
        weights = [w for w, _ in makers]
        out: list[dict] = []
        while len(out) < n:
            example = self.rng.choices(makers, weights)[0][1]()
            if example is not None:
                out.append(self.with_system(self.as_served(example)))
        return out

    def _role_tool(self, need: str) -> tuple[str, str]:
        """A role, then a tool in proportion to its templates: every template is about equally
        likely, so the tools asked in the most ways (plans, segments) are seen the most."""
        role = self.rng.choice(["operator", "customer"])
        tools = self.phrased_tools(role, need)
        weights = [max(len(self.text[role][tool][need]),
                       CHANGE_REQUEST_WEIGHT if tool in CHANGE_TOOLS and need == "train" else 0)
                   for tool in tools]
        return role, self.rng.choices(tools, weights)[0]

    def as_served(self, example: dict) -> dict:
        """Every call of the example written as the served decoder must write it: arguments in
        schema order (see ``in_schema_order``), and an enumerated argument with a default always
        stated (``event=purchase``), so the model picks it from the words instead of choosing
        between writing "churn" and leaving the key out. ``expected`` keeps what the user said
        (DESIGN.md's format: a default is not an expected argument)."""
        for message in example["messages"]:
            for tool_call in message.get("tool_calls", []):
                fn = tool_call["function"]
                stated = self.stated_defaults.get(fn["name"], {})
                fn["arguments"] = in_schema_order(stated | fn["arguments"],
                                                  self.schemas.get(fn["name"], {}))
        return example

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
        for case in map(self.as_served, cases):  # ends at the turn to predict
            case["messages"] = _until_last_prediction(case["messages"], bool(case["expected"]))
        return [{"id": f"{c['role'][:2]}-{i:04d}", **c} for i, c in enumerate(cases)]


def _until_last_prediction(messages: list[dict], calls: bool) -> list[dict]:
    """Drop the last assistant turn (the one to predict) and anything after it."""
    last = max(i for i, m in enumerate(messages) if m["role"] != "assistant") + 1 \
        if messages[-1]["role"] == "assistant" else len(messages)
    return messages[:last] if calls or messages[-1]["role"] == "assistant" else messages


def _comparable(args: dict) -> dict:
    return {k: v for k, v in args.items() if k not in FREE_TEXT_ARGS}


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path
