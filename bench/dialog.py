"""Dialog model benchmark -> bench/results/dialog.json (+ the BENCHMARKS.md table).

1. Decode speed on the converted base model, 400-token prompt, greedy, 64 new tokens, median of
   runs, in one process: plain transformers fp32 ``generate()`` vs our decode loop in fp32, bf16
   and int8 (cold cache, and with the prompt's first 350 tokens already in the prefix cache, as
   in a conversation), and ``generate()`` the way it would replace the loop: a logits processor
   where the grammar mask goes, a streamer for the token times, the prefix cache passed in.
   bf16 only where the CPU has bf16 instructions (emulated bf16 is ~8x slower: BENCHMARKS.md).
   Then the batched loop's tokens/s with 1, 4, 8 and 16 requests in flight, beside the memory
   bandwidth limit of one stream.
2. Tool-call evaluation on a seeded sample of the dev split: base vs quick vs full, each raw
   (fp32, free decoding) and as the product runs it (settings: int8, constrained calls).
3. Training tokens/s from each artifact's meta.json.

    .venv/bin/python -m bench.dialog [--runs 3] [--sample 80] [--threads N] [--models quick full]
"""

from __future__ import annotations

import argparse
import hashlib
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
from finetune.dialog.precision import resolve
from knowledge.settings import load_settings

RESULTS = Path(__file__).parent / "results" / "dialog.json"


def _generate_with_hooks(model, prompt: torch.Tensor, new: int, cached: int) -> tuple[float, float]:
    """(first-token seconds, decode tok/s) of ``generate()`` as a replacement of our loop would
    run it: a logits processor (identity here, as our loop's hook is in the other rows), a
    streamer that stamps each token, and ``cached`` prompt tokens already in a reused cache."""
    import copy

    from transformers import DynamicCache, LogitsProcessorList
    from transformers.generation.streamers import BaseStreamer

    class Stamps(BaseStreamer):
        def __init__(self):
            self.times: list[float] = []
            self.prompt_seen = False

        def put(self, value):  # the first call carries the prompt
            if self.prompt_seen:
                self.times.append(time.perf_counter())
            self.prompt_seen = True

        def end(self):
            pass

    cache = DynamicCache(config=model.config)
    if cached:
        model(prompt[:, :cached], cache=cache, use_cache=True)
    cache = copy.deepcopy(cache)
    stamps = Stamps()
    started = time.perf_counter()
    model.generate(prompt, attention_mask=torch.ones_like(prompt), cache=cache,
                   max_new_tokens=new, min_new_tokens=new, do_sample=False, streamer=stamps,
                   logits_processor=LogitsProcessorList([lambda ids, scores: scores]))
    return stamps.times[0] - started, (new - 1) / (stamps.times[-1] - stamps.times[0])


def decode_speed(path: Path, runs: int, precisions: tuple[str, ...], prompt_len: int = 400,
                 new: int = 64) -> dict:
    """Plain fp32 ``generate()`` vs our decode loop at each precision, in one process."""
    from assistant.backends.local import load_model

    prompt = torch.randint(100, 40000, (1, prompt_len), generator=torch.Generator().manual_seed(0))
    ids = prompt[0].tolist()
    rows: dict[str, list[tuple[float, float]]] = {}
    models = {precision: load_model(path, precision)[1] for precision in precisions}
    reference = models["fp32"] if "fp32" in models else load_model(path, "fp32")[1]
    with torch.inference_mode():
        reference.generate(prompt[:, :16], max_new_tokens=2, do_sample=False)  # warm-up
        for _ in range(runs):
            mask = torch.ones_like(prompt)
            started = time.perf_counter()
            reference.generate(prompt, attention_mask=mask, max_new_tokens=1, do_sample=False)
            ttft = time.perf_counter() - started
            started = time.perf_counter()
            reference.generate(prompt, attention_mask=mask, max_new_tokens=new,
                               min_new_tokens=new, do_sample=False)
            total = time.perf_counter() - started
            rows.setdefault("generate_fp32", []).append((ttft, (new - 1) / max(total - ttft, 1e-9)))
            for precision, model in models.items():
                for cache in ("cold", "warm"):
                    decoder = Decoder(model)
                    if cache == "warm":  # an earlier turn left the first 350 tokens in the cache
                        list(decoder.run(ids[:350] + [7], Sampling(max_new_tokens=1), set()))
                    started, stamps = time.perf_counter(), []
                    for _ in decoder.run(ids, Sampling(max_new_tokens=new), set()):
                        stamps.append(time.perf_counter())
                    rows.setdefault(f"ours_{precision}_{cache}", []).append(
                        (stamps[0] - started, (new - 1) / (stamps[-1] - stamps[0])))
                    rows.setdefault(f"generate_processor_{precision}_{cache}", []).append(
                        _generate_with_hooks(model, prompt, new, cached=350 if cache == "warm"
                                             else 0))
    out = {name: {"ttft_ms_median": round(1000 * statistics.median(t for t, _ in v), 1),
                  "decode_tok_s_median": round(statistics.median(s for _, s in v), 1),
                  "runs": len(v)} for name, v in rows.items()}
    base_speed = out["generate_fp32"]["decode_tok_s_median"]
    for row in out.values():
        row["decode_speed_vs_generate"] = round(row["decode_tok_s_median"] / base_speed, 2)
    return out


def memory_bandwidth_gb_s(runs: int = 5) -> float:
    """Copy bandwidth (read + write) of a 512 MB tensor, median of runs: the ceiling of a
    decode step, which reads every weight once."""
    source = torch.ones(128 * 1024 * 1024)
    target = torch.empty_like(source)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        target.copy_(source)
        seconds.append(time.perf_counter() - started)
    return 2 * source.numel() * source.element_size() / statistics.median(seconds) / 1e9


def batch_speed(path: Path, runs: int, precision: str, batches: tuple[int, ...] = (1, 4, 8, 16),
                prompt_len: int = 400, new: int = 64) -> dict:
    """Decode tokens/s with 1, 4, 8, 16 requests in flight (different 400-token prompts whose
    keys are already in the prefix pool, so the time is decoding), beside the bandwidth limit
    of one stream: memory bandwidth / bytes of weights read per step."""
    import threading

    from assistant.backends.local import load_model

    model = load_model(path, precision)[1]
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    bandwidth = memory_bandwidth_gb_s()
    generator = torch.Generator().manual_seed(1)
    out: dict = {"precision": precision, "weights_mb": round(weight_bytes / 1e6),
                 "memory_bandwidth_gb_s": round(bandwidth, 1),
                 "bandwidth_limit_tok_s_per_stream": round(bandwidth * 1e9 / weight_bytes, 1)}
    for batch in batches:
        decoder = Decoder(model, max_batch=batch, pool_size=batch)
        prompts = [torch.randint(100, 40000, (prompt_len,), generator=generator).tolist()
                   for _ in range(batch)]
        for prompt in prompts:  # prefill once: the timed runs decode only
            list(decoder.run(prompt, Sampling(max_new_tokens=1), set()))
        walls = []
        for _ in range(runs):
            threads = [threading.Thread(target=lambda p=p, d=decoder: list(
                d.run(p, Sampling(max_new_tokens=new), set()))) for p in prompts]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            walls.append(time.perf_counter() - started)
        wall = statistics.median(walls)
        out[f"batch_{batch}"] = {"aggregate_tok_s": round(batch * new / wall, 1),
                                 "per_stream_tok_s": round(new / wall, 1),
                                 "largest_batch_seen": decoder.stats.largest_batch, "runs": runs}
    return out


def sample_dev(dev: Path, n: int, seed: int) -> Path:
    """A seeded sample of the dev file, beside the results but not in git (it quotes Bitext and
    tau-bench records, which stay in the data directory)."""
    lines = [line for line in dev.read_text().splitlines() if line.strip()]
    picked = random.Random(seed).sample(lines, min(n, len(lines)))
    out = RESULTS.parent / "dialog_dev_sample.jsonl"
    out.write_text("\n".join(picked) + "\n")
    return out


def evaluate(model: Path, cases: Path, precision: str, constrained: bool,
             max_tokens: int = 96) -> dict:
    from assistant.backends.local import LocalBackend
    from assistant.toolcall_eval import evaluate_file

    backend = LocalBackend(model, constrained=constrained, precision=precision)
    summary = evaluate_file(cases, backend, max_tokens=max_tokens).summary()
    return {"precision": precision, "constrained": constrained} | {
        k: v for k, v in summary.items() if k != "per_kind"} | {"per_kind": summary["per_kind"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=80)
    parser.add_argument("--models", nargs="+", default=["base", "quick", "full"])
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
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if not args.skip_speed:
        native_bf16 = resolve("auto") == "bf16"
        out["decode"] = decode_speed(base, args.runs, ("fp32", "int8") + ("bf16",) * native_bf16)
        print(json.dumps(out["decode"], indent=2))
        out["batched"] = batch_speed(base, args.runs, resolve(settings.dialog_precision))
        print(json.dumps(out["batched"], indent=2))
    else:
        out |= {key: previous[key] | {"kept_from_run_of": previous["machine"]}
                for key in ("decode", "batched") if key in previous}
    dialog = settings.artifacts_dir / "dialog"
    dev = dialog / "dev.jsonl"
    if not dev.is_file() and "eval_sample" in previous:  # no model here: keep the last evaluation
        out |= {k: v for k, v in previous.items() if k.startswith("eval_")}
        out["eval_sample"] |= {"kept_from_run_of": previous["machine"]}
    if dev.is_file():
        cases = sample_dev(dev, args.sample, settings.seed)
        out["eval_sample"] = {"file": str(dev), "cases": args.sample, "seed": settings.seed,
                              "max_tokens": args.max_tokens,
                              "sha256": hashlib.sha256(cases.read_bytes()).hexdigest()}
        if previous.get("eval_sample") == out["eval_sample"]:  # the very same cases: keep the
            out |= {k: v for k, v in previous.items()  # models not evaluated in this run
                    if k.startswith("eval_") and k != "eval_sample"}
        # raw model (fp32, free decoding) and the product's setting (int8, constrained calls)
        configs = [("fp32", False), (settings.dialog_precision, settings.dialog_constrained)]
        for name in args.models:
            if not (dialog / name / "config.json").is_file():
                continue
            for precision, constrained in configs[:1] if name == "base" else configs:
                key = f"eval_{name}_{precision}" + ("_constrained" if constrained else "")
                out[key] = evaluate(dialog / name, cases, precision, constrained,
                                    max_tokens=args.max_tokens)
                print(key, json.dumps({k: v for k, v in out[key].items()
                                       if "accuracy" in k or "json" in k}), flush=True)
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
