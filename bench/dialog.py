"""Dialog model benchmark -> bench/results/dialog.json (+ the BENCHMARKS.md table).

1. Decode speed on the converted base model, 400-token prompt, greedy, 64 new tokens, median of
   runs, in one process: plain transformers ``generate()`` vs our decode loop (cold cache, and
   with the prompt's first 350 tokens already in the prefix cache, as in a conversation).
2. Tool-call evaluation on a seeded sample of the dev split: base vs quick (vs full if built),
   and quick with grammar-constrained calls.
3. Training tokens/s from each artifact's meta.json.

    .venv/bin/python -m bench.dialog [--runs 3] [--sample 60] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

import torch

from assistant.backends.decode import Decoder, Sampling
from finetune.dialog.base import ensure_base
from knowledge.settings import load_settings

RESULTS = Path(__file__).parent / "results" / "dialog.json"


def decode_speed(path: Path, runs: int, prompt_len: int = 400, new: int = 64,
                 dtype: torch.dtype = torch.float32) -> dict:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()
    prompt = torch.randint(100, 40000, (1, prompt_len), generator=torch.Generator().manual_seed(0))
    rows: dict[str, list[tuple[float, float]]] = {"generate": [], "ours_cold": [], "ours_warm": []}
    with torch.inference_mode():
        model.generate(prompt[:, :16], max_new_tokens=2, do_sample=False)  # warm-up
        for _ in range(runs):
            mask = torch.ones_like(prompt)
            started = time.perf_counter()
            model.generate(prompt, attention_mask=mask, max_new_tokens=1, do_sample=False)
            ttft = time.perf_counter() - started
            started = time.perf_counter()
            model.generate(prompt, attention_mask=mask, max_new_tokens=new, min_new_tokens=new,
                           do_sample=False)
            total = time.perf_counter() - started
            rows["generate"].append((ttft, (new - 1) / max(total - ttft, 1e-9)))
            for name, warm in (("ours_cold", False), ("ours_warm", True)):
                decoder = Decoder(model)
                ids = prompt[0].tolist()
                if warm:  # an earlier turn left the first 350 tokens in the cache
                    list(decoder.run(ids[:350] + [7], Sampling(max_new_tokens=1), set()))
                started, stamps = time.perf_counter(), []
                for _ in decoder.run(ids, Sampling(max_new_tokens=new), set()):
                    stamps.append(time.perf_counter())
                ttft = stamps[0] - started
                rows[name].append((ttft, (new - 1) / (stamps[-1] - stamps[0])))
    return {name: {"ttft_ms_median": round(1000 * statistics.median(t for t, _ in v), 1),
                   "decode_tok_s_median": round(statistics.median(s for _, s in v), 1),
                   "runs": len(v)} for name, v in rows.items()}


def sample_dev(dev: Path, n: int, seed: int) -> Path:
    lines = [line for line in dev.read_text().splitlines() if line.strip()]
    picked = random.Random(seed).sample(lines, min(n, len(lines)))
    out = RESULTS.parent / "dialog_dev_sample.jsonl"
    out.write_text("\n".join(picked) + "\n")
    return out


def evaluate(model: Path, cases: Path, constrained: bool = False, max_tokens: int = 96) -> dict:
    from assistant.backends.local import LocalBackend
    from finetune.dialog.evaluate import evaluate_file

    backend = LocalBackend(model, constrained=constrained)
    summary = evaluate_file(cases, backend, max_tokens=max_tokens).summary()
    return {k: v for k, v in summary.items() if k != "per_kind"} | {"per_kind": summary["per_kind"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=60)
    parser.add_argument("--max-tokens", type=int, default=96, help="per evaluated reply")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = load_settings()
    base = ensure_base(settings)
    out: dict = {"machine": {"cpu": platform.processor() or platform.machine(),
                             "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                             "load_average_at_start": os.getloadavg()}}
    if not args.skip_speed:
        out["decode_fp32"] = decode_speed(base, args.runs)
        out["decode_bf16"] = decode_speed(base, args.runs, dtype=torch.bfloat16)
        print(json.dumps({k: out[k] for k in ("decode_fp32", "decode_bf16")}, indent=2))
    dialog = settings.artifacts_dir / "dialog"
    dev = dialog / "dev.jsonl"
    if dev.is_file():
        cases = sample_dev(dev, args.sample, settings.seed)
        out["eval_sample"] = {"file": str(dev), "cases": args.sample, "seed": settings.seed,
                              "max_tokens": args.max_tokens}
        for name in ("base", "quick", "full"):
            if (dialog / name / "config.json").is_file():
                out[f"eval_{name}"] = evaluate(dialog / name, cases, max_tokens=args.max_tokens)
                print(name, json.dumps({k: v for k, v in out[f"eval_{name}"].items()
                                        if "accuracy" in k or "json" in k}))
        if (dialog / "quick" / "config.json").is_file():
            out["eval_quick_constrained"] = evaluate(dialog / "quick", cases, constrained=True,
                                                     max_tokens=args.max_tokens)
    out["training"] = {name: {k: meta.get(k) for k in ("train_tokens_per_s", "seconds",
                                                       "steps_done", "torch_threads", "lora")}
                       for name in ("quick", "full")
                       if (meta_file := dialog / name / "meta.json").is_file()
                       and (meta := json.loads(meta_file.read_text()))}
    out["load_average_at_end"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
