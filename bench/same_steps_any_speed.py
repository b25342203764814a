"""Does a slower machine get the same dialog model? `python bench/same_steps_any_speed.py`.

A preset is a number of optimiser steps with a seed, so a machine half as fast should train the
same model, only later. This trains the `quick` preset's first STEPS steps three times, with 1
torch thread (the slow machine) and twice with 2 (the fast one, and a repeat), each in its own
process, and compares what they produce: the training data (the dev file written beside it),
the loss per step and every weight. Bit-identical runs at the same speed show the pipeline is
deterministic; the 1-vs-2-thread difference is float summation order. Writes
bench/results/same_steps_any_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_results

RUNS = {"slow_1_thread": 1, "fast_2_threads": 2, "fast_repeat": 2}


def train(out: Path, steps: int, threads: int) -> float:
    """One run in its own process, registered in a scratch registry (not the project's)."""
    started = time.perf_counter()
    subprocess.run([str(REPO / ".venv/bin/shopmind"), "train", "dialog", "--preset", "quick",
                    "--steps", str(steps), "--threads", str(threads), "--out", str(out),
                    "--base", str(REPO / "artifacts/dialog/base"),
                    "--dev-file", str(out.with_suffix(".dev.jsonl"))],
                   check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=os.environ | {"SHOPMIND_ARTIFACTS_DIR": str(out.parent / "artifacts")})
    return time.perf_counter() - started


def max_weight_difference(a: Path, b: Path) -> float:
    from safetensors.torch import load_file

    first, second = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return max(float((first[k].float() - second[k].float()).abs().max()) for k in first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folders = {name: Path(scratch) / name for name in RUNS}
        seconds = {name: round(train(folders[name], args.steps, threads), 1)
                   for name, threads in RUNS.items()}
        history = {name: json.loads((folders[name] / "meta.json").read_text())["loss_first10"]
                   for name in RUNS}
        dev = {name: folders[name].with_suffix(".dev.jsonl").read_text() for name in RUNS}
        result = {
            "steps": args.steps, "threads": RUNS, "wall_seconds": seconds,
            "mean_loss": history,
            "same_training_data": len(set(dev.values())) == 1,
            "max_abs_weight_difference": {
                "1_vs_2_threads": max_weight_difference(folders["slow_1_thread"],
                                                        folders["fast_2_threads"]),
                "2_threads_repeat": max_weight_difference(folders["fast_2_threads"],
                                                          folders["fast_repeat"])}}
    print(json.dumps(result, indent=1))
    write_results(REPO / "bench" / "results" / "same_steps_any_speed.json",
                  "same_steps_any_speed", **result)


if __name__ == "__main__":
    main()
