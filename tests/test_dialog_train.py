"""Dialog training: loss only on assistant tokens, the shared-prefix batch loss equals the
per-dialog loss, and a short LoRA run yields a loadable HF folder; runs resume."""

from __future__ import annotations

import json

import pytest
import torch

from finetune.dialog.train import (
    IGNORE,
    Preset,
    accumulate,
    batch_loss,
    checkpoint_layers,
    encode,
    memory_parts,
    progress_path,
    read_progress,
    train_dialog,
)
from tests.dialog_samples import DIALOG, TOOLS


@pytest.fixture(scope="module")
def tiny(tiny_dialog_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dialog_model), \
        AutoModelForCausalLM.from_pretrained(tiny_dialog_model)


def test_labels_cover_assistant_turns_only(tiny):
    tokenizer, _ = tiny
    enc = encode(tokenizer, {"messages": DIALOG}, TOOLS)
    assert "get_order_details(order_id: string)" in tokenizer.decode(enc.prefix)
    kept = tokenizer.decode([t for t in enc.labels if t != IGNORE])
    assert kept == ('<tool_call>{"name": "get_order_details", "arguments": {"order_id": "#W1"}}'
                    "</tool_call><|im_end|>It is pending.<|im_end|>")
    assert "Where is #W1?" not in kept and "pending\"}" not in kept


def test_shared_prefix_loss_equals_per_dialog_loss(tiny):
    tokenizer, model = tiny
    other = DIALOG[:2] + [{"role": "tool", "content": "{}"},
                          {"role": "assistant", "content": "Nothing found, sorry."}]
    items = [encode(tokenizer, {"messages": m}, TOOLS) for m in (DIALOG, other, DIALOG[:2])]
    assert len({e.prefix for e in items}) == 1
    shared, _ = batch_loss(model, items[0].prefix, items, pad_id=2)
    total, count = 0.0, 0
    for e in items:
        ids = torch.tensor([list(e.prefix) + e.ids])
        labels = torch.tensor([[IGNORE] * len(e.prefix) + e.labels])
        logits = model(input_ids=ids).logits
        total += torch.nn.functional.cross_entropy(logits[0, :-1], labels[0, 1:],
                                                   ignore_index=IGNORE, reduction="sum")
        count += int((labels[0, 1:] != IGNORE).sum())
    assert shared.item() == pytest.approx(float(total / count), rel=1e-4)


def test_a_batch_run_in_memory_parts_has_the_whole_batch_gradient(tiny):
    tokenizer, model = tiny
    other = DIALOG[:2] + [{"role": "tool", "content": "{}"},
                          {"role": "assistant", "content": "Nothing found, sorry."}]
    items = [encode(tokenizer, {"messages": m}, TOOLS) for m in (DIALOG, other, DIALOG[:2])]
    prefix = items[0].prefix
    assert len(memory_parts(len(prefix), items, max_attention=1)) == len(items)

    def gradient(max_attention: int) -> tuple[float, list[torch.Tensor]]:
        model.zero_grad()
        loss, _ = accumulate(model, prefix, items, 2, max_attention, bf16=False)
        return loss, [p.grad.clone() for p in model.parameters() if p.grad is not None]

    (whole_loss, whole), (parts_loss, parts) = gradient(10**12), gradient(1)
    assert parts_loss == pytest.approx(whole_loss, rel=1e-5)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(whole, parts))
    model.zero_grad()


@pytest.mark.parametrize("every", [1, 2])
def test_checkpointed_layers_give_the_same_gradient(tiny_dialog_model, every):
    """Recomputing layers in the backward pass (the prefix cache kept) changes nothing."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dialog_model)
    items = [encode(tokenizer, {"messages": m}, TOOLS) for m in (DIALOG, DIALOG[:2])]

    def gradient(checkpointed: bool) -> tuple[float, list[torch.Tensor]]:
        model = AutoModelForCausalLM.from_pretrained(tiny_dialog_model)
        if checkpointed:
            checkpoint_layers(model, every)
        model.train()
        loss, _ = accumulate(model, items[0].prefix, items, 2, 10**12, bf16=False)
        return loss, [p.grad for p in model.parameters() if p.grad is not None]

    (plain_loss, plain), (kept_loss, kept) = gradient(False), gradient(True)
    assert kept_loss == pytest.approx(plain_loss, rel=1e-6)
    assert len(kept) == len(plain) and all(torch.allclose(a, b, atol=1e-6)
                                           for a, b in zip(plain, kept))


def test_short_lora_run_saves_a_plain_hf_folder_and_resumes(small_shop, tiny_dialog_model,
                                                            tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetune.dialog import train

    monkeypatch.setitem(train.PRESETS, "test", Preset(examples=40, steps=4, batch=2, lr=1e-3,
                                                      lora=True, lora_rank=2))
    out = tmp_path / "dialog"
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return batch_loss(*args, **kwargs)

    monkeypatch.setattr(train, "batch_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_dialog(small_shop, "test", out, base=tiny_dialog_model, log_every=2)
    assert out.with_name("dialog.checkpoint.pt").is_file()
    progress = read_progress(out)  # what the server tells a user while it trains
    assert progress is not None and (progress.step, progress.steps) == (2, 4)
    assert "step 2 of 4" in progress.sentence()
    monkeypatch.setattr(train, "batch_loss", batch_loss)
    meta = train_dialog(small_shop, "test", out, base=tiny_dialog_model, log_every=2)
    assert meta["steps_done"] == 4 and meta["steps_run_now"] == 2
    assert not out.with_name("dialog.checkpoint.pt").is_file()
    assert read_progress(out) is None and not progress_path(out).exists()
    model = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in name for name, _ in model.named_parameters())
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert "<tool_call>" in tokenizer.chat_template
    assert json.loads((out / "meta.json").read_text())["train_tokens_per_s"] > 0


def test_presets_are_step_budgets_so_a_slow_machine_gets_the_same_model():
    from finetune.dialog.train import PRESETS

    assert all(p.minutes is None and p.steps > 0 for p in PRESETS.values())
