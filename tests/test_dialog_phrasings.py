"""phrasings.yaml: the train templates are many and varied, use only known slots, and never
share a word 4-gram with a dev template of the same tool (in either role), so the dev split
keeps measuring generalisation to new wording. Reads the YAML only (no shop needed)."""

from __future__ import annotations

import random
import re

import pytest

from finetune.dialog.data import SLOT, DialogData, phrasings
from tools.registry import tools_for

ROLES = ("operator", "customer")
# Tools whose requests need arguments no template slot can give (item ids, addresses,
# payment ids) or that the model calls on its own (think): they have no phrasings yet.
UNPHRASED = {"think", "modify_pending_order_address", "modify_user_address",
             "modify_pending_order_payment", "modify_pending_order_items",
             "return_delivered_order_items", "exchange_delivered_order_items",
             "calculate"}  # registered for operators too, phrased for the customer role only
MIN_TRAIN = 12


def _words(template: str) -> list[str]:
    text = SLOT.sub(" {} ", template.partition("||")[0].lower())
    return re.findall(r"\{\}|[a-z0-9]+(?:'[a-z]+)?", text)


def _grams(template: str, n: int = 4) -> set[tuple[str, ...]]:
    words = _words(template)
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _families() -> dict[str, dict[str, list[str]]]:
    """tool -> split -> templates, pooled over both roles (one tool, one intent)."""
    out: dict[str, dict[str, list[str]]] = {}
    text = phrasings()
    for role in ROLES:
        for tool, fams in text[role].items():
            for split, templates in fams.items():
                out.setdefault(tool, {}).setdefault(split, []).extend(templates)
    out["chitchat"] = {split: [user for user, _ in pairs]
                       for split, pairs in text["chitchat"].items()}
    return out


def test_words_normalise_case_punctuation_and_slots():
    assert _words("Is {user_id} about to leave us? || event=churn") == \
        ["is", "{}", "about", "to", "leave", "us"]
    assert _grams("What's the chance {x}, really") == {("what's", "the", "chance", "{}"),
                                                        ("the", "chance", "{}", "really")}


@pytest.mark.parametrize("tool", sorted(_families()))
def test_no_train_template_shares_a_4gram_with_dev(tool):
    fams = _families()[tool]
    dev = set().union(*map(_grams, fams.get("dev", [])))
    leaks = [(t, sorted(_grams(t) & dev)) for t in fams.get("train", []) if _grams(t) & dev]
    assert not leaks, leaks


@pytest.mark.parametrize("role", ROLES)
def test_every_registered_tool_has_enough_train_phrasings(role):
    phrased = phrasings()[role]
    registered = {spec.name for spec in tools_for(role)}
    assert set(phrased) <= registered, set(phrased) - registered
    for tool in sorted(registered - UNPHRASED):
        assert len(phrased.get(tool, {}).get("train", [])) >= MIN_TRAIN, tool
    assert len(phrasings()["chitchat"]["train"]) >= 30


def test_templates_use_only_known_slots_and_clean_duplicates():
    data = DialogData.__new__(DialogData)  # slots() needs only rng, entities and no pin
    from finetune.dialog.entities import Entities, _fill_gaps

    data.rng, data.ents, data.pinned = random.Random(0), Entities(), None
    _fill_gaps(data.ents, data.rng)
    text = phrasings()
    for role in ROLES:
        for tool, fams in text[role].items():
            known = set(data.slots(tool, role))
            for split, templates in fams.items():
                assert len(set(templates)) == len(templates), (tool, split)
                for template in templates:
                    assert set(SLOT.findall(template)) <= known, template
                    if split == "vague":  # a vague request lacks what `ask` asks for
                        assert tool in text["ask"] or SLOT.findall(template) == [], template


def test_augmentation_keeps_slot_values_and_fixed_args(small_shop):
    data = DialogData(small_shop, seed=5)
    template = "Churn risk of customer {user_id} over {horizon_days} days || event=churn"
    seen = set()
    for _ in range(300):
        varied = data.vary(template)
        assert varied.endswith("|| event=churn") and "{user_id}" in varied, varied
        assert "{horizon_days}" in varied
        seen.add(varied)
        text, args = data.fill(varied, "predict_behavior", "operator")
        assert args["event"] == "churn" and args["user_id"] in text
        assert str(args["horizon_days"]) in text
    assert len(seen) > 5  # it does vary
    assert all("{email}" in data.vary("{email}") for _ in range(100))
