"""`shopmind train dialog --preset quick|full`: supervised fine-tuning of the dialog model on
generated tool-calling dialogs, loss on assistant tokens only, full or LoRA (peft).

Every dialog of a role starts with the same system block (system prompt + the role's tool
list, ~600 tokens), so a batch is drawn from dialogs sharing that prefix: the prefix runs once,
its KV cache is repeated over the batch and only the suffixes run per dialog, batched with
dialogs of similar length. The loss is exactly the per-dialog loss (tested), at a fraction of
the cost. bf16 autocast where the CPU computes bf16 natively, fp32 elsewhere (precision.py);
resumable checkpoints; the artifact is a plain HF folder.

A preset is a number of optimiser steps with a seed, never a wall-clock box: a slow machine takes
longer and gets the same model. Progress (step, ETA) goes to a small JSON file beside the
artifact, which the server reads to tell a user when the chat will answer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import BaseModel
from tqdm import tqdm

from finetune.dialog.base import dialog_model_path, ensure_base
from finetune.dialog.data import DialogData, role_tools, write_jsonl
from finetune.dialog.precision import native_bf16
from knowledge.settings import Settings

IGNORE = -100


@dataclass(frozen=True)
class Preset:
    examples: int  # training dialogs generated (finetune/dialog/data.py)
    steps: int  # optimiser steps: the budget (the LR schedule anneals over them)
    batch: int  # dialogs per step
    lr: float  # peak learning rate (5% warm-up, cosine to 10%)
    lora: bool  # LoRA adapters (peft) instead of full fine-tuning
    max_suffix: int = 640  # tokens after the system block; longer dialogs are skipped
    # A batch runs in parts of at most this many attention scores (rows x (prefix + width))
    # per layer and head; the gradient is the same. Before checkpointing, 16 dialogs in parts of
    # 6M scores peaked at 19 GiB resident and in parts of 1.5M at 10.7 GiB; with it, 6M parts
    # were both slower and larger than 1.5M ones (14 steps: 170 vs 204 tokens/s, 5.9 vs 4.5 GiB).
    max_attention: int = 1_500_000
    # Every n-th decoder layer keeps only its input for the backward pass and recomputes the
    # rest (activation checkpointing; 0 = none): the same gradient (tested). First 14 steps of
    # the quick preset with every layer: peak 4.6-4.8 GiB instead of 7.2-7.7 at 16-20% fewer
    # tokens/s (every second layer: 5.55 GiB, 8%); the whole quick run 5.65 GiB instead of
    # 10.94 (bench/training_memory.py, BENCHMARKS.md).
    checkpoint_every: int = 1
    lora_rank: int = 16
    minutes: float | None = None  # opt-in time box: stop (and anneal the LR) by then
    # Resident memory the preset needs: the measured peak of the quick preset, checkpointed
    # (5.65 GiB, /usr/bin/time -v, 2026-12-08), plus a GiB for the full preset's longer run
    # (not measured); `shopmind up` refuses below it.
    memory_gib: float = 7.0


PRESETS = {
    # A try-out: the step count the old 20-minute box reached on 2 cores. Such runs missed one
    # to three steps of the docs' walkthrough each (BENCHMARKS.md).
    "quick": Preset(examples=4000, steps=160, batch=16, lr=2e-4, lora=False),
    # What `shopmind up` builds (settings.dialog_preset): the 408 steps the measured 60-minute
    # run reached, which passed every walkthrough step for 5 of 5 customers.
    "full": Preset(examples=12000, steps=408, batch=16, lr=2e-4, lora=False),
}


@dataclass
class Encoded:
    prefix: tuple[int, ...]
    ids: list[int]
    labels: list[int]


def encode(tokenizer, example: dict, tools: list[dict]) -> Encoded:
    """Token ids and labels (assistant tokens only), split after the system block."""
    out = tokenizer.apply_chat_template(example["messages"], tools=tools, return_dict=True,
                                        return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    cut = ids.index(end) + 2  # "<|im_end|>", "\n"
    labels = [t if m else IGNORE for t, m in zip(ids, mask)]
    return Encoded(tuple(ids[:cut]), ids[cut:], labels[cut:])


PrefixKV = list[tuple[torch.Tensor, torch.Tensor]]


def prefix_kv(model, prefix: tuple[int, ...]) -> PrefixKV:
    """Keys and values of the shared system block, per layer, computed without gradients."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        model(input_ids=torch.tensor([prefix]), cache=cache, use_cache=True,
              logits_to_keep=1)
    return [(layer.keys, layer.values) for layer in cache.layers]


def _repeated_cache(model, kv: PrefixKV, rows: int):
    from transformers import DynamicCache

    class PrefixCache(DynamicCache):
        """The system block's keys and values, never extended: each layer attends to them and
        to the suffix's own, so a checkpointed layer's recompute reads what the first run read
        (a DynamicCache would append the suffix a second time)."""

        def update(self, keys, values, layer_idx, *args, **kwargs):
            layer = self.layers[layer_idx]
            return torch.cat([layer.keys, keys], dim=-2), torch.cat([layer.values, values], dim=-2)

    cache = DynamicCache(config=model.config)
    for index, (keys, values) in enumerate(kv):
        cache.update(keys.expand(rows, -1, -1, -1), values.expand(rows, -1, -1, -1), index)
    cache.__class__ = PrefixCache
    return cache


def checkpoint_layers(model, every: int = 1) -> None:
    """Activation checkpointing that keeps the prefix cache (transformers drops a cache under
    checkpointing unless a layer says it only reads it, which ``PrefixCache`` guarantees)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    model.activation_checkpointing_enable({"use_reentrant": False}, every_n_layers=every)
    for module in model.modules():
        if isinstance(module, GradientCheckpointingLayer):
            module._can_checkpoint_with_cache = True


def batch_loss(model, prefix: tuple[int, ...], items: list[Encoded], pad_id: int,
               kv: PrefixKV | None = None) -> tuple[torch.Tensor, int]:
    """Mean next-token loss over the labelled suffix tokens of ``items`` (one shared prefix).

    The prefix runs once without gradients (``kv``, shared by every part of a step) and its
    KV cache is repeated over the batch: the loss value is exactly the per-dialog loss (tested),
    the gradient only skips the path through the system block's keys and values. Logits are
    computed at labelled positions only (the 49k-row output layer is a fifth of the model's
    compute)."""
    cache = _repeated_cache(model, kv or prefix_kv(model, prefix), len(items))
    width = max(len(e.ids) for e in items)
    ids = torch.full((len(items), width), pad_id)
    labels = torch.full((len(items), width), IGNORE)
    for row, e in enumerate(items):
        ids[row, : len(e.ids)] = torch.tensor(e.ids)
        labels[row, : len(e.labels)] = torch.tensor(e.labels)
    positions = torch.arange(len(prefix), len(prefix) + width).expand(len(items), -1)
    hidden = model.get_decoder()(input_ids=ids, position_ids=positions, cache=cache,
                                 use_cache=True).last_hidden_state
    # token t predicts t+1; the first suffix token is "<|im_start|>", never a label
    targets = labels[:, 1:]
    keep = targets != IGNORE
    logits = model.get_output_embeddings()(hidden[:, :-1][keep])
    loss = F.cross_entropy(logits.float(), targets[keep], reduction="sum")
    count = int(keep.sum())
    return loss / max(count, 1), len(prefix) + int((ids != pad_id).sum())


def labelled(e: Encoded) -> int:
    """Positions that carry a loss (token t predicts t + 1; see ``batch_loss``)."""
    return sum(label != IGNORE for label in e.labels[1:])


def memory_parts(prefix: int, items: list[Encoded], max_attention: int) -> list[list[Encoded]]:
    """``items`` (similar lengths) in consecutive parts whose attention fits ``max_attention``."""
    parts: list[list[Encoded]] = [[]]
    for e in items:
        part = parts[-1] + [e]
        width = max(len(x.ids) for x in part)
        if parts[-1] and len(part) * width * (prefix + width) > max_attention:
            parts.append([e])
        else:
            parts[-1] = part
    return parts


def accumulate(model, prefix: tuple[int, ...], items: list[Encoded], pad_id: int,
               max_attention: int, bf16: bool = True) -> tuple[float, int]:
    """Backward of the batch's per-token mean loss, run in memory parts (the gradient is the
    whole batch's); returns (that loss, tokens run)."""
    total, mean, tokens = sum(map(labelled, items)), 0.0, 0
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        kv = prefix_kv(model, prefix)
    for part in memory_parts(len(prefix), items, max_attention):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, seen = batch_loss(model, prefix, part, pad_id, kv)
        share = sum(map(labelled, part)) / max(total, 1)
        (loss * share).backward()
        mean += loss.item() * share
        tokens += seen
    return mean, tokens


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None on other C libraries (looked up once: finding the
    library runs a subprocess)."""
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def release_freed_memory() -> None:
    """Give the heap's freed pages back to the system. Every step frees tensors of new shapes,
    and glibc keeps the freed memory: without this the resident size crept up step after step
    (BENCHMARKS.md)."""
    if trim := _malloc_trim():
        trim(0)


def similar_length_batch(rng: random.Random, group: list[Encoded], size: int) -> list[Encoded]:
    """``size`` dialogs of neighbouring suffix lengths (``group`` is sorted by length), so a
    batch is not padded to one long tau-bench flow."""
    start = rng.randrange(max(1, len(group) - size + 1))
    return group[start:start + size]


def _wrap_lora(model, tokenizer, preset: Preset):
    from peft import LoraConfig, get_peft_model

    new_ids = [tokenizer.convert_tokens_to_ids(t) for t in
               ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")]
    config = LoraConfig(
        r=preset.lora_rank, lora_alpha=2 * preset.lora_rank, lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                        "down_proj"],
        trainable_token_indices={"embed_tokens": new_ids}, task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def build_dataset(settings: Settings, preset: Preset, tokenizer) -> dict[tuple, list[Encoded]]:
    """Encoded training dialogs grouped by their system block, each group sorted by length."""
    rng = random.Random(settings.seed)
    data = DialogData(settings, settings.seed)
    tools = {role: role_tools(role) for role in ("operator", "customer")}
    groups: dict[tuple, list[Encoded]] = {}
    for example in data.train_examples(preset.examples):
        enc = encode(tokenizer, example, tools[example["role"]])
        if len(enc.ids) <= preset.max_suffix and any(x != IGNORE for x in enc.labels):
            groups.setdefault(enc.prefix, []).append(enc)
    for group in groups.values():
        rng.shuffle(group)
        group.sort(key=lambda e: len(e.ids))
    return groups


def _schedule(progress: float) -> float:
    """LR factor at ``progress`` in [0, 1]: 5% linear warm-up, then cosine down to 10%."""
    if progress < 0.05:
        return 0.1 + 0.9 * progress / 0.05
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (progress - 0.05) / 0.95))


def train_dialog(settings: Settings, preset_name: str, out: Path, base: Path | None = None,
                 log_every: int = 10, **overrides) -> dict:
    """Train and save the artifact to ``out``; returns its meta. ``overrides`` replace preset
    fields (steps, minutes, examples, ...)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    preset = Preset(**{**asdict(PRESETS[preset_name]),
                       **{k: v for k, v in overrides.items() if v is not None}})
    base = base or ensure_base(settings)
    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    bf16 = native_bf16()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    if preset.checkpoint_every:
        checkpoint_layers(model, preset.checkpoint_every)
    if preset.lora:
        model = _wrap_lora(model, tokenizer, preset)
    model.train()
    groups = build_dataset(settings, preset, tokenizer)
    keys = sorted(groups, key=lambda k: -len(groups[k]))
    weights = [len(groups[k]) for k in keys]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=preset.lr, weight_decay=0.0)
    ckpt = out.with_name(out.name + ".checkpoint.pt")
    start, history, before = 0, [], 0.0
    if ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        if state["preset"] == asdict(preset):
            model.load_state_dict(state["model"], strict=False)
            optimizer.load_state_dict(state["optimizer"])
            rng.setstate(state["rng"])
            start, history, before = state["step"], state["history"], state["seconds"]
    pad = tokenizer.convert_tokens_to_ids(tokenizer.pad_token)
    budget = preset.minutes * 60 if preset.minutes else None
    tokens, started = 0, time.perf_counter()
    progress_file = progress_path(out)
    bar = tqdm(range(start, preset.steps), desc=f"train dialog ({preset_name})",
               initial=start, total=preset.steps)
    for step in bar:
        elapsed = before + time.perf_counter() - started
        if budget and elapsed > budget:
            break
        progress = max(step / preset.steps, elapsed / budget if budget else 0.0)
        for group in optimizer.param_groups:
            group["lr"] = preset.lr * _schedule(progress)
        key = rng.choices(keys, weights)[0]
        items = similar_length_batch(rng, groups[key], preset.batch)
        step_loss, seen = accumulate(model, key, items, pad, preset.max_attention, bf16)
        tokens += seen
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        release_freed_memory()
        history.append(round(step_loss, 4))
        bar.set_postfix(loss=f"{sum(history[-10:]) / len(history[-10:]):.3f}",
                        tok_s=f"{tokens / (time.perf_counter() - started):.0f}")
        write_progress(progress_file, preset_name, step + 1 - start, step + 1, preset.steps,
                       time.perf_counter() - started)
        if (step + 1) % log_every == 0 or step + 1 == preset.steps:
            trainable = {k: v for k, v in model.state_dict().items()
                         if any(v is p for p in params) or "lora" in k or "trainable" in k}
            torch.save({"preset": asdict(preset), "model": trainable or model.state_dict(),
                        "optimizer": optimizer.state_dict(), "rng": rng.getstate(),
                        "step": step + 1, "history": history,
                        "seconds": before + time.perf_counter() - started}, ckpt)
    seconds = time.perf_counter() - started
    if preset.lora:
        model = model.merge_and_unload()
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    meta = {
        "kind": "dialog", "preset": preset_name, **asdict(preset), "base": str(base),
        "seed": settings.seed, "shop": settings.shop,
        "train_examples": sum(weights), "prefix_groups": len(keys),
        "steps_done": len(history), "steps_run_now": len(history) - start,
        "seconds": round(before + seconds, 1), "torch_threads": torch.get_num_threads(),
        "autocast": "bf16" if bf16 else "fp32",
        "train_tokens_per_s": round(tokens / max(seconds, 1e-9), 1),
        "loss_first10": sum(history[:10]) / max(1, len(history[:10])),
        "loss_last10": sum(history[-10:]) / max(1, len(history[-10:])),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    ckpt.unlink(missing_ok=True)
    progress_file.unlink(missing_ok=True)
    return meta


class TrainingProgress(BaseModel):
    """Where a running dialog training stands (written after every step)."""

    preset: str
    step: int
    steps: int
    seconds_per_step: float  # measured in this run, so the ETA is this machine's
    updated_at: float  # time.time()
    pid: int

    @property
    def eta_minutes(self) -> float:
        return (self.steps - self.step) * self.seconds_per_step / 60

    def sentence(self) -> str:
        return (f"The assistant's dialog model is still training on this machine (step "
                f"{self.step} of {self.steps}); it answers in about "
                f"{max(1, round(self.eta_minutes))} minutes.")


def progress_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress.json")


def write_progress(path: Path, preset: str, run_now: int, step: int, steps: int,
                   seconds: float) -> None:
    progress = TrainingProgress(preset=preset, step=step, steps=steps,
                                seconds_per_step=seconds / max(run_now, 1),
                                updated_at=time.time(), pid=os.getpid())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(progress.model_dump_json())
    tmp.replace(path)


def read_progress(out: Path) -> TrainingProgress | None:
    """The progress of a training of ``out`` that is still running (its process alive)."""
    path = progress_path(out)
    try:
        progress = TrainingProgress.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(progress.pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return progress


def write_dev_file(settings: Settings, path: Path) -> Path:
    """The held-out evaluation JSONL (other phrasing families than training)."""
    return write_jsonl(DialogData(settings, settings.seed + 1).dev_cases(), path)


def is_built(settings: Settings) -> bool:
    folder = dialog_model_path(settings)
    return (folder / "config.json").is_file() and (folder / "meta.json").is_file()


def record_build(settings: Settings, out: Path, meta: dict) -> str:
    """Register the model just trained into ``out`` as the serving version of ``dialog/<shop>``
    with its training metrics (no gate: its held-out evaluation generates with the model,
    minutes to hours on a CPU; docs/models.md). The folder is trained in place, so an earlier
    version cannot be rolled back to (the registry refuses: rebuilt in place). Returns the
    version name."""
    from finetune import registry

    name = f"dialog-{meta['preset']}-{meta['created_at'].replace('-', '').replace(':', '')}"
    train = ("loss_first10", "loss_last10", "steps_done", "train_examples")
    registry.record_build(settings, registry.dialog_slot(settings.shop), registry.Version(
        version=name, path=str(out.resolve()), model=f"dialog:{meta['preset']}",
        data_window={"base": meta["base"], "seed": meta["seed"]},
        metrics={"train": {key: meta[key] for key in train}}, created_at=meta["created_at"],
        note="built; no gate (no cheap held-out metric)"))
    return name


def build_default(settings: Settings) -> str:
    """The `shopmind up` stage: settings.dialog_preset into settings.dialog_model."""
    out = dialog_model_path(settings)
    meta = train_dialog(settings, settings.dialog_preset, out)
    record_build(settings, out, meta)
    write_dev_file(settings, out.parent / "dev.jsonl")
    return (f"{out}: {meta['steps_done']} steps on {meta['train_examples']} dialogs, "
            f"loss {meta['loss_first10']:.2f} -> {meta['loss_last10']:.2f}")
