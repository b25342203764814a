"""`shopmind train dialog --preset quick|full`: supervised fine-tuning of the dialog model on
generated tool-calling dialogs, loss on assistant tokens only, full or LoRA (peft).

Every dialog of a role starts with the same system block (system prompt + the role's tool
list, ~600 tokens), so a batch is drawn from dialogs sharing that prefix: the prefix runs once,
its KV cache is repeated over the batch and only the suffixes run per dialog, batched with
dialogs of similar length. The loss is exactly the per-dialog loss (tested), at a fraction of
the cost. bf16 autocast on CPU; resumable checkpoints; the artifact is a plain HF folder.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from finetune.dialog.base import dialog_model_path, ensure_base
from finetune.dialog.data import DialogData, role_tools, write_jsonl
from knowledge.settings import Settings

IGNORE = -100


@dataclass(frozen=True)
class Preset:
    examples: int
    steps: int
    batch: int
    lr: float
    lora: bool
    max_suffix: int = 640  # tokens after the system block; longer dialogs are skipped
    # A batch runs in parts of at most this many attention scores (rows x (prefix + width))
    # per layer and head; the gradient is the same. The attention probabilities kept for the
    # backward pass are what fills memory: 16 dialogs of 640 tokens after an 800-token system
    # block peaked at 20 GiB resident.
    max_attention: int = 6_000_000
    lora_rank: int = 16
    minutes: float | None = None  # time box: stop (and anneal the LR) by then


PRESETS = {
    # The fast try-out, time-boxed. Full fine-tuning beat LoRA (r=16 + tool-token embeddings,
    # lr 1e-3) in the same 10 minutes: 0.58 vs 0.42 dev tool-call accuracy. Its ~150 steps
    # pass or miss each step of the docs' walkthrough by the luck of the draw (BENCHMARKS.md).
    "quick": Preset(examples=4000, steps=300, batch=16, lr=2e-4, lora=False, minutes=20),
    # What `shopmind up` builds (settings.dialog_preset): more dialogs, an hour's box, ~400
    # steps on 2 cores; its one measured run passed every walkthrough step for 5 of 5 customers.
    "full": Preset(examples=12000, steps=1000, batch=16, lr=2e-4, lora=False, minutes=60),
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


def batch_loss(model, prefix: tuple[int, ...], items: list[Encoded], pad_id: int,
               ) -> tuple[torch.Tensor, int]:
    """Mean next-token loss over the labelled suffix tokens of ``items`` (one shared prefix).

    The prefix runs once without gradients and its KV cache is repeated over the batch: the
    loss value is exactly the per-dialog loss (tested), the gradient only skips the path through
    the system block's keys and values. Logits are computed at labelled positions only (the
    49k-row output layer is a fifth of the model's compute)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        model(input_ids=torch.tensor([prefix]), cache=cache, use_cache=True, logits_to_keep=1)
    cache.batch_repeat_interleave(len(items))
    width = max(len(e.ids) for e in items)
    ids = torch.full((len(items), width), pad_id)
    labels = torch.full((len(items), width), IGNORE)
    for row, e in enumerate(items):
        ids[row, : len(e.ids)] = torch.tensor(e.ids)
        labels[row, : len(e.labels)] = torch.tensor(e.labels)
    positions = torch.arange(len(prefix), len(prefix) + width).expand(len(items), -1)
    hidden = model.get_decoder()(input_ids=ids, position_ids=positions, past_key_values=cache,
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
    for part in memory_parts(len(prefix), items, max_attention):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, seen = batch_loss(model, prefix, part, pad_id)
        share = sum(map(labelled, part)) / max(total, 1)
        (loss * share).backward()
        mean += loss.item() * share
        tokens += seen
    return mean, tokens


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
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
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
    bar = tqdm(range(start, preset.steps), desc=f"train dialog ({preset_name})",
               initial=start, total=preset.steps)
    step = start
    for step in bar:
        elapsed = before + time.perf_counter() - started
        if budget and elapsed > budget:
            break
        progress = max(step / preset.steps, elapsed / budget if budget else 0.0)
        for group in optimizer.param_groups:
            group["lr"] = preset.lr * _schedule(progress)
        key = rng.choices(keys, weights)[0]
        items = similar_length_batch(rng, groups[key], preset.batch)
        step_loss, seen = accumulate(model, key, items, pad, preset.max_attention)
        tokens += seen
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        history.append(round(step_loss, 4))
        bar.set_postfix(loss=f"{sum(history[-10:]) / len(history[-10:]):.3f}",
                        tok_s=f"{tokens / (time.perf_counter() - started):.0f}")
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
        "train_tokens_per_s": round(tokens / max(seconds, 1e-9), 1),
        "loss_first10": sum(history[:10]) / max(1, len(history[:10])),
        "loss_last10": sum(history[-10:]) / max(1, len(history[-10:])),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    ckpt.unlink(missing_ok=True)
    return meta


def write_dev_file(settings: Settings, path: Path) -> Path:
    """The held-out evaluation JSONL (other phrasing families than training)."""
    return write_jsonl(DialogData(settings, settings.seed + 1).dev_cases(), path)


def is_built(settings: Settings) -> bool:
    folder = dialog_model_path(settings)
    return (folder / "config.json").is_file() and (folder / "meta.json").is_file()


def build_default(settings: Settings) -> str:
    """The `shopmind up` stage: settings.dialog_preset into settings.dialog_model."""
    out = dialog_model_path(settings)
    meta = train_dialog(settings, settings.dialog_preset, out)
    write_dev_file(settings, out.parent / "dev.jsonl")
    return (f"{out}: {meta['steps_done']} steps on {meta['train_examples']} dialogs, "
            f"loss {meta['loss_first10']:.2f} -> {meta['loss_last10']:.2f}")
