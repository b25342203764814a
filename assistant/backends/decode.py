"""A lean decode loop: one prefill, then one token per forward pass on a KV cache, under
``torch.inference_mode``. It is no faster than ``generate()`` at the same precision (bf16, 135M,
2 cores: 32 tok/s either way, BENCHMARKS.md); it stays for the per-step logits hook (grammar,
``tool_choice``) and token-by-token streaming.

The cache of the previous request is kept: a new prompt that starts with the same tokens (the
system prompt and tool list, earlier turns) only prefills what is new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

LogitsHook = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Sampling:
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None


def pick(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator | None) -> int:
    if sampling.temperature <= 0:
        return int(logits.argmax())
    probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        keep = sorted_probs.cumsum(-1) - sorted_probs < sampling.top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
    return int(torch.multinomial(probs, 1, generator=generator))


@dataclass
class PrefixCache:
    """The KV cache of the last sequence run, reused for a prompt sharing its prefix."""

    ids: list[int] = field(default_factory=list)
    cache: object | None = None

    def take(self, model, prompt: list[int]):
        from transformers import DynamicCache

        shared = 0
        for a, b in zip(self.ids, prompt[:-1]):  # keep >= 1 prompt token to compute logits on
            if a != b:
                break
            shared += 1
        if self.cache is None or shared == 0:
            self.cache, shared = DynamicCache(config=model.config), 0
        else:
            self.cache.crop(shared - self.cache.get_seq_length())
        self.ids = list(prompt[:shared])
        return self.cache, shared


class Decoder:
    """Streams token ids for a prompt. ``hook(logits)`` may mask the logits of each step
    (grammar constraints); the caller sees each chosen token as it is yielded."""

    def __init__(self, model):
        self.model = model
        self.prefix = PrefixCache()

    @torch.inference_mode()
    def run(self, prompt: list[int], sampling: Sampling, stop_ids: set[int],
            hook: LogitsHook | None = None) -> Iterator[int]:
        generator = None
        if sampling.seed is not None:
            generator = torch.Generator().manual_seed(sampling.seed)
        cache, shared = self.prefix.take(self.model, prompt)
        fresh = torch.tensor([prompt[shared:]])
        positions = torch.arange(shared, len(prompt)).unsqueeze(0)
        logits = self._step(fresh, positions, cache)
        self.prefix.ids.extend(prompt[shared:])
        for step in range(sampling.max_new_tokens):
            if hook is not None:
                logits = hook(logits)
            token = pick(logits, sampling, generator)
            yield token
            if token in stop_ids or step == sampling.max_new_tokens - 1:
                return
            position = torch.tensor([[len(self.prefix.ids)]])
            logits = self._step(torch.tensor([[token]]), position, cache)
            self.prefix.ids.append(token)

    def _step(self, ids: torch.Tensor, positions: torch.Tensor, cache) -> torch.Tensor:
        out = self.model(input_ids=ids, position_ids=positions, cache=cache, use_cache=True,
                         logits_to_keep=1)
        return out.logits[0, -1].float()
