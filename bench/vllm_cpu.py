"""The dialog artifact served by vLLM's CPU build against the in-process backend ->
bench/results/vllm_cpu.json.

1. Agreement: the same cases (a seeded sample of the dev split, or any evaluation file) through
   the running vLLM endpoint (hermes parser, no grammar) and through the in-process backend as
   served (bf16, grammar-constrained): accuracy of each and the share of cases where both made
   the same call (tool name and arguments) or both made none.
2. Throughput: N concurrent requests of 64 generated tokens each (N = 1, 4, 8, 16) on the
   endpoint: aggregate and per-stream tokens/s, beside the in-process backend's single stream
   (it serves one generation at a time).

    bash scripts/vllm_cpu.sh artifacts/dialog/quick 8000 &   # in another shell
    python -m bench.vllm_cpu --url http://127.0.0.1:8000/v1 --model artifacts/dialog/quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from assistant.backends.types import ChatRequest
from assistant.toolcall_eval import Report, evaluate_file
from bench.dialog_heldout import sampled

RESULTS = Path(__file__).parent / "results" / "vllm_cpu.json"
PROMPT = [{"role": "user", "content": "Write three sentences about why customers come back "
                                      "to a shop."}]


def agreement(a: Report, b: Report) -> dict:
    same = [x.predicted == y.predicted and (x.arguments or {}) == (y.arguments or {})
            for x, y in zip(a.cases, b.cases, strict=True)]
    return {"cases": len(same), "same_call": round(sum(same) / len(same), 4),
            "same_tool": round(sum(x.predicted == y.predicted
                                   for x, y in zip(a.cases, b.cases, strict=True)) / len(same), 4)}


def throughput(client, concurrency: int, tokens: int = 64) -> dict:
    request = ChatRequest(messages=PROMPT, max_tokens=tokens, temperature=0.0)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _: client.chat(request), range(concurrency)))
    seconds = time.perf_counter() - started
    produced = sum(r.completion_tokens for r in results)
    return {"concurrency": concurrency, "seconds": round(seconds, 2),
            "tokens": produced, "aggregate_tok_s": round(produced / seconds, 1),
            "per_stream_tok_s": round(produced / seconds / concurrency, 1)}


def main() -> None:
    from assistant.backends.local import LocalBackend
    from assistant.backends.openai_compat import OpenAIBackend
    from knowledge.settings import load_settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", type=Path, required=True, help="the artifact vLLM serves")
    parser.add_argument("--cases", type=Path, default=None, help="default: the dev split")
    parser.add_argument("--sample", type=int, default=80)
    parser.add_argument("--runs", type=int, default=3, help="throughput runs per concurrency")
    args = parser.parse_args()
    settings = load_settings()
    cases = sampled(args.cases or settings.artifacts_dir / "dialog" / "dev.jsonl", args.sample,
                    settings.seed)
    served = OpenAIBackend(args.url)
    local = LocalBackend(args.model, constrained=settings.dialog_constrained,
                         precision=settings.dialog_precision)
    out: dict = {"machine": {"cores": os.cpu_count(), "load_average": os.getloadavg()},
                 "url": args.url, "model": str(args.model), "cases": str(cases)}
    vllm_report = evaluate_file(cases, served, max_tokens=96)
    local_report = evaluate_file(cases, local, max_tokens=96)
    out["vllm"] = {k: v for k, v in vllm_report.summary().items() if "accuracy" in k or "json" in k}
    out["in_process"] = {k: v for k, v in local_report.summary().items()
                         if "accuracy" in k or "json" in k}
    out["agreement"] = agreement(vllm_report, local_report)
    print(json.dumps({k: out[k] for k in ("vllm", "in_process", "agreement")}, indent=1))
    rows = []
    for concurrency in (1, 4, 8, 16):
        runs = [throughput(served, concurrency) for _ in range(args.runs)]
        rows.append({**runs[0], "aggregate_tok_s": statistics.median(r["aggregate_tok_s"]
                                                                    for r in runs),
                     "per_stream_tok_s": statistics.median(r["per_stream_tok_s"] for r in runs),
                     "runs": len(runs)})
        print(rows[-1], flush=True)
    local_runs = [throughput(local, 1) for _ in range(args.runs)]
    out["throughput"] = {"vllm": rows, "in_process_single_stream_tok_s":
                         statistics.median(r["aggregate_tok_s"] for r in local_runs)}
    RESULTS.write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
