"""How well the agent's hand-off rule (assistant/human_request.py) recognises a customer asking
for a person: `python bench/human_request.py`.

Real customer utterances of Bitext's customer-service set, dev.csv (held out: the dialog model
trains on train.csv; the rule was written from tau-bench's policy and our own phrasings, then
checked on train.csv), labelled `contact_human_agent` or one of 26 other intents. Recall on the
first, false hand-offs on the rest (per intent). And the last customer message of every case
of the held-out dialog sets (`bench/heldout.py`'s two, where built, and fresh_author): recall
on the cases whose first step is `transfer_to_human_agents`, false hand-offs on the others.
Writes bench/results/human_request.json.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.human_request import asks_for_a_person
from bench.common import write_results
from knowledge.settings import load_settings


def measure(path: Path) -> dict:
    rows = list(csv.DictReader(path.open()))
    asks = [r["utterance"] for r in rows if r["intent"] == "contact_human_agent"]
    others = [r for r in rows if r["intent"] != "contact_human_agent"]
    false = [r for r in others if asks_for_a_person(r["utterance"])]
    return {"asks": len(asks), "recognised": sum(map(asks_for_a_person, asks)),
            "missed": [u for u in asks if not asks_for_a_person(u)],
            "other_messages": len(others), "false_hand_offs": len(false),
            "false_by_intent": dict(Counter(r["intent"] for r in false))}


def measure_cases(path: Path) -> dict:
    asks, missed, others, false = 0, [], 0, []
    for line in path.open():
        case = json.loads(line)
        text = [m["content"] for m in case["messages"] if m["role"] == "user"][-1]
        if "transfer_to_human_agents" in {e["name"] for e in case.get("expected", [])}:
            asks += 1
            missed += [] if asks_for_a_person(text) else [text]
        else:
            others += 1
            false += [text] if asks_for_a_person(text) else []
    return {"asks": asks, "recognised": asks - len(missed), "missed": missed,
            "other_messages": others, "false_hand_offs": len(false), "false": false}


HELD_OUT = {"other_author": REPO / "artifacts/heldout/other_author.jsonl",
            "real_utterances": REPO / "artifacts/heldout/real_utterances.jsonl",
            "fresh_author": REPO / "bench/data/fresh_author.jsonl"}


def main() -> None:
    folder = load_settings().data_dir / "bitext_customer_service_intents"
    if not folder.is_dir():
        raise SystemExit(f"no Bitext data at {folder}: set data_dir")
    results = {f"bitext_{split}": measure(folder / f"{split}.csv") for split in ("dev", "train")}
    results |= {name: measure_cases(path) for name, path in HELD_OUT.items() if path.is_file()}
    for split, r in results.items():
        print(f"{split}: recognised {r['recognised']}/{r['asks']}, false hand-offs "
              f"{r['false_hand_offs']}/{r['other_messages']}")
    write_results(REPO / "bench" / "results" / "human_request.json", "human_request",
                  splits=results)


if __name__ == "__main__":
    main()
