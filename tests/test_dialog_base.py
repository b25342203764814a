"""The real base model: the packaged GGUF converts to a safetensors folder with the same
weights, the tool tokens and our template (converted once per session, in tmp)."""

from __future__ import annotations

import shutil

import pytest
import torch

from finetune.dialog.base import ensure_base, find_gguf, is_valid_base

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def real_base(tmp_path_factory):
    from knowledge.settings import Settings

    return ensure_base(Settings(artifacts_dir=tmp_path_factory.mktemp("artifacts")))


def test_conversion_keeps_the_gguf_weights_and_adds_tool_tokens(real_base):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = find_gguf()
    original = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name).eval()
    converted = AutoModelForCausalLM.from_pretrained(real_base).eval()
    tokenizer = AutoTokenizer.from_pretrained(real_base)
    ids = tokenizer("<|im_start|>user\nWhere is my parcel?<|im_end|>", return_tensors="pt")
    with torch.inference_mode():
        a = original(**ids).logits[..., : original.config.vocab_size]
        b = converted(**ids).logits[..., : original.config.vocab_size]
    assert torch.allclose(a, b, atol=1e-4)
    assert len(tokenizer("<tool_call>", add_special_tokens=False).input_ids) == 1
    assert converted.get_input_embeddings().num_embeddings >= len(tokenizer)
    embed = converted.get_input_embeddings().weight
    start, end = (embed[tokenizer.convert_tokens_to_ids(t)] for t in ("<tool_call>", "</tool_call>"))
    pieces = original.get_input_embeddings().weight[
        [tokenizer.convert_tokens_to_ids(p) for p in ("<", "tool", "_", "call", ">")]]
    assert torch.allclose(start, pieces.mean(0), atol=1e-6) and not torch.allclose(start, end)
    assert is_valid_base(real_base)


def test_a_corrupt_conversion_is_not_reused(real_base, tmp_path):
    corrupt = tmp_path / "base"  # a copy: real_base is shared by the session
    corrupt.mkdir()
    for name in ("meta.json", "model.safetensors"):
        shutil.copyfile(real_base / name, corrupt / name)
    assert is_valid_base(corrupt)
    with (corrupt / "model.safetensors").open("ab") as handle:
        handle.write(b"\0")
    assert not is_valid_base(corrupt)
