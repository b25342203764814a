"""Peak resident memory of dialog training: `python bench/training_memory.py --steps 14`.

Trains the quick preset's first STEPS steps (same seed, same batches) once per variant, each in
its own process, and records the process's peak resident size (``ru_maxrss``), the resident size
after every step and the training tokens/s:

- ``before``: no activation checkpointing, freed heap memory kept (the training until 12-08),
- ``checkpointing``: each layer recomputed in the backward pass, heap kept,
- ``default``: checkpointing and the heap's freed pages returned after every step,
- ``every_second_layer``: the default, with every second layer recomputed,
- ``default_6m_parts``: the default with parts of 6M attention scores instead of 1.5M.

The variants run one after another on the same machine; tokens/s are comparable only when
nothing else shares the cores. Writes bench/results/training_memory.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results

VARIANTS = {
    "before": {"checkpoint_every": 0, "trim": False},
    "checkpointing": {"checkpoint_every": 1, "trim": False},
    "default": {"checkpoint_every": 1, "trim": True},
    "every_second_layer": {"checkpoint_every": 2, "trim": True},
    "default_6m_parts": {"checkpoint_every": 1, "trim": True, "max_attention": 6_000_000},
}


def resident_gib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**30


def child(variant: str, steps: int, out: Path) -> dict:
    """One variant, in this process (called by ``main`` in a fresh one)."""
    from finetune.dialog import train
    from knowledge.settings import Settings

    options = dict(VARIANTS[variant])
    if not options.pop("trim"):
        train.release_freed_memory = lambda: None
    after_steps: list[float] = []
    accumulate = train.accumulate

    def measured(*args, **kwargs):
        result = accumulate(*args, **kwargs)
        after_steps.append(round(resident_gib(), 2))  # the step's gradients still held
        return result

    train.accumulate = measured
    meta = train.train_dialog(Settings(), "quick", out, steps=steps, **options)
    return {"variant": variant, **VARIANTS[variant], "steps": steps,
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "rss_after_each_step_gib": after_steps, "seconds": meta["seconds"],
            "train_tokens_per_s": meta["train_tokens_per_s"],
            "loss_first10": meta["loss_first10"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=14)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.out)))
        return
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for variant in args.variants:
            done = subprocess.run(
                [sys.executable, __file__, "--child", variant, "--steps", str(args.steps),
                 "--out", str(Path(scratch) / variant)],
                check=True, cwd=REPO, capture_output=True, text=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps({k: v for k, v in runs[-1].items()
                              if k != "rss_after_each_step_gib"}), flush=True)
    write_results(REPO / "bench/results/training_memory.json", "training_memory",
                  steps=args.steps, runs=runs)


if __name__ == "__main__":
    main()
