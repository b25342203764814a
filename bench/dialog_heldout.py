"""Tool-call accuracy on sets the dialog model cannot have seen -> bench/results/dialog_heldout.json.

Sets (each reported on its own; the goal holds on the worst):
- ``dev``: the training generator's dev split (other phrasing families, same generator);
- ``other_author`` and ``real_utterances``: bench/heldout.py (another author's templates and
  entity formats; real utterances of held-out sources);
- ``fresh_author``: 169 cases written by hand by a third author who read neither the training
  generator nor the other held-out sets (bench/data/fresh_author.md).
Cases of kind ``zh*`` are the Chinese slice.

Models are evaluated as served (the agent's system prompt, bf16, grammar-constrained calls).
Beside them, a baseline that needs no language model: a nearest-neighbour router (MiniLM
embeddings of the training requests, 5-neighbour vote) that picks the tool name (or no call) of
the most similar training requests. It cannot fill arguments, so it is compared on tool names
and irrelevance only.

    python -m bench.dialog_heldout --models full [--sample 0] [--sets dev other_author ...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from assistant.toolcall_eval import NONE, read_cases
from knowledge.settings import load_settings

RESULTS = Path(__file__).parent / "results" / "dialog_heldout.json"
# under artifacts/, except fresh_author: written by hand in the repo (bench/data/fresh_author.md)
SET_FILES = {"dev": "dialog/dev.jsonl", "other_author": "heldout/other_author.jsonl",
             "real_utterances": "heldout/real_utterances.jsonl",
             "fresh_author": str(Path(__file__).parent / "data" / "fresh_author.jsonl")}


def sampled(path: Path, n: int, seed: int) -> Path:
    """All cases (n = 0) or a seeded sample of n, written beside the source (not in git)."""
    if not n:
        return path
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    out = path.with_name(f"{path.stem}.sample{n}.jsonl")
    out.write_text("\n".join(random.Random(seed).sample(lines, min(n, len(lines)))) + "\n")
    return out


def chinese_slice(report_cases: list) -> dict:
    zh = [c for c in report_cases if (c.kind or "").startswith("zh")]
    calls = [c for c in zh if c.expected != NONE]
    return {"cases": len(zh), "overall_accuracy": _mean(c.correct for c in zh),
            "tool_call_accuracy": _mean(c.correct for c in calls)}


def evaluate_model(model: Path, cases: Path, precision: str, constrained: bool,
                   grounded: bool) -> dict:
    from assistant.backends.local import LocalBackend
    from assistant.toolcall_eval import evaluate_file

    backend = LocalBackend(model, constrained=constrained, precision=precision, grounded=grounded)
    report = evaluate_file(cases, backend, max_tokens=96)
    summary = report.summary()
    summary["precision"], summary["grounded"] = backend.precision, grounded
    summary["zh"] = chinese_slice(report.cases)
    summary["misses"] = [{"id": c.id, "kind": c.kind, "expected": c.expected,
                          "predicted": c.predicted, "arguments": c.arguments}
                         for c in report.cases if not c.correct][:60]
    return summary


class Router:
    """Nearest-neighbour tool router over the training requests (the baseline)."""

    def __init__(self, settings, examples: int, seed: int):
        from finetune.dialog.data import DialogData
        from knowledge.text_embeddings import embed

        texts, labels = [], []
        for example in DialogData(settings, seed).train_examples(examples):
            messages = example["messages"]
            for i, message in enumerate(messages[1:], start=1):
                if message["role"] == "assistant" and messages[i - 1]["role"] == "user":
                    calls = message.get("tool_calls") or []
                    texts.append(messages[i - 1]["content"])
                    labels.append(calls[0]["function"]["name"] if calls else NONE)
        self.vectors, self.labels, self.embed = embed(texts), labels, embed

    def predict(self, text: str, k: int = 5) -> str:
        scores = self.vectors @ self.embed([text])[0]
        top = np.argsort(-scores)[:k]
        return Counter(self.labels[i] for i in top).most_common(1)[0][0]


def evaluate_router(router: Router, cases: Path) -> dict:
    results = []
    for case in read_cases(cases):
        last_user = next(m["content"] for m in reversed(case.messages) if m["role"] == "user")
        want = case.expected[0]["name"] if case.expected else NONE
        results.append((want, router.predict(last_user), case.kind or ""))
    calls = [(w, p) for w, p, _ in results if w != NONE]
    empty = [(w, p) for w, p, _ in results if w == NONE]
    per_kind: dict[str, list[bool]] = defaultdict(list)
    for want, got, kind in results:
        per_kind[kind.split(":")[0]].append(want == got)
    return {"cases": len(results),
            "tool_name_accuracy": _mean(w == p for w, p in calls),
            "irrelevance_accuracy": _mean(w == p for w, p in empty),
            "per_kind": {k: {"n": len(v), "accuracy": _mean(v)} for k, v in sorted(per_kind.items())}}


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="*", default=["full"],
                        help="folders under artifacts/dialog (or paths)")
    parser.add_argument("--sets", nargs="+", default=list(SET_FILES))
    parser.add_argument("--sample", type=int, default=0, help="cases per set (0 = all)")
    parser.add_argument("--grounding", choices=["on", "off", "both"], default="both",
                        help="decode-time grounding of identifiers (as served: on); both = each "
                        "model twice, the ungrounded run stored as MODEL:ungrounded")
    parser.add_argument("--router-examples", type=int, default=6000)
    parser.add_argument("--no-router", action="store_true")
    args = parser.parse_args()
    settings = load_settings()
    out = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    out["machine"] = {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()}
    router = None if args.no_router else Router(settings, args.router_examples, settings.seed)
    for name in args.sets:
        path = settings.artifacts_dir / SET_FILES[name]
        if not path.is_file():
            print(f"{name}: {path} missing (bench/heldout.py or shopmind train dialog writes it)")
            continue
        cases = sampled(path, args.sample, settings.seed)
        row = out.setdefault(name, {})
        row["cases"] = len(read_cases(cases))
        row["file"] = str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
        if router is not None:
            row["router_baseline"] = evaluate_router(router, cases)
            print(name, "router", json.dumps({k: v for k, v in row["router_baseline"].items()
                                              if k != "per_kind"}), flush=True)
        runs = [(model, grounded) for model in args.models
                for grounded in {"on": [True], "off": [False], "both": [True, False]}[args.grounding]]
        for model, grounded in runs:
            folder = Path(model) if Path(model).is_dir() else settings.artifacts_dir / "dialog" / model
            started = time.perf_counter()
            summary = evaluate_model(folder, cases, settings.dialog_precision,
                                     settings.dialog_constrained, grounded)
            summary["seconds"] = round(time.perf_counter() - started, 1)
            meta = folder / "meta.json"
            summary["model_meta"] = {k: v for k, v in json.loads(meta.read_text()).items()
                                     if k in ("preset", "steps_done", "seed", "base", "created_at")
                                     } if meta.is_file() else {}
            label = model if grounded else f"{model}:ungrounded"
            row[label] = summary
            print(name, label, json.dumps({k: v for k, v in summary.items()
                                           if "accuracy" in k or k == "zh"}), flush=True)
            _save(name, row, out["machine"])
    print(f"wrote {RESULTS}")


def _save(name: str, row: dict, machine: dict) -> None:
    """Merge one set's results into the file as it is now (another run may have written other
    sets meanwhile), so an interrupted or parallel run loses nothing."""
    out = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    out["machine"], out[name] = machine, row
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
