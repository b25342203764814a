"""The decode loop, batched across concurrent requests.

One scheduler thread owns the model. Each request is prefilled on its own (reusing the keys of
an earlier request that shares its first tokens: the system prompt and tool list, the earlier
turns of the same conversation), then joins the batch: every step is one forward pass over the
next token of every request in flight, so twenty customers do not queue behind one generation.
Each request keeps its own per-step logits hook (grammar, ``tool_choice``, grounding), sampling
and stop tokens, and streams its tokens as they are chosen.

Why not ``generate()``: at batch 1 it is no faster than this loop, and it cannot take a
request into a batch that is already decoding. Same process, fp32, 2 AVX2 cores, median of 3
(bench/results/dialog_decode_avx2.json): ``generate()`` decodes 9.6 tok/s, this loop 9.7; its
first token comes sooner (0.95 s against 1.17 s for a 400-token prompt, 0.26 s against 0.31 s
with 350 of them cached). Batched, 16 requests in flight decode 62 tok/s together, against 9.1
for one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from transformers.cache_utils import Cache

from assistant.backends.kv_cache import KVLayer, PrefixPool, SavedPrefix, States, shared_length

LogitsHook = Callable[[torch.Tensor], torch.Tensor]
TokenObserver = Callable[[int], None]

_END = object()  # the scheduler's "no more tokens" to a request's queue


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


@dataclass(eq=False)
class _Request:
    prompt: list[int]
    sampling: Sampling
    stop_ids: set[int]
    hook: LogitsHook | None
    observe: TokenObserver | None
    out: queue.Queue = field(default_factory=queue.Queue)
    ids: list[int] = field(default_factory=list)  # the tokens whose keys are in the cache
    logits: torch.Tensor | None = None  # for the next pick
    next_token: int = 0
    produced: int = 0
    cancelled: bool = False
    generator: torch.Generator | None = None


@dataclass
class DecodeStats:
    """Where a decoder's time went (bench/load.py reports it)."""

    prefilled_tokens: int = 0  # prompt tokens run (the rest came from a shared prefix)
    prefill_s: float = 0.0
    steps: int = 0  # batched forward passes of one token per row
    rows_stepped: int = 0  # sum of the batch sizes of those steps
    step_s: float = 0.0
    pick_s: float = 0.0  # logits hooks (grammar, grounding), sampling, streaming out
    largest_batch: int = 0


class Decoder:
    """Streams token ids for prompts, up to ``max_batch`` of them decoded together.
    ``hook(logits)`` may mask a request's logits at each step; ``observe(token)`` sees each
    token it chose before its next step; both run on the scheduler thread."""

    def __init__(self, model, max_batch: int = 16, pool_size: int = 16):
        self.model = model
        self.max_batch = max_batch
        self.pool = PrefixPool(pool_size)
        self.stats = DecodeStats()
        self._waiting: list[_Request] = []
        self._rows: list[_Request] = []  # in the batch, in cache row order
        self._pads: list[int] = []  # left padding of each row
        self._cache: Cache | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def run(self, prompt: list[int], sampling: Sampling, stop_ids: set[int],
            hook: LogitsHook | None = None, observe: TokenObserver | None = None
            ) -> Iterator[int]:
        if sampling.max_new_tokens <= 0:
            return
        request = _Request(list(prompt), sampling, stop_ids, hook, observe)
        if sampling.seed is not None:
            request.generator = torch.Generator().manual_seed(sampling.seed)
        with self._lock:
            self._waiting.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="shopmind-decode",
                                                daemon=True)
                self._thread.start()
        try:
            while (item := request.out.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            request.cancelled = True  # the caller stopped reading: free its row

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._waiting and not self._rows:
                    self._thread = None  # idle: the next run() starts a new thread
                    return
                room = self.max_batch - len(self._rows)
                joining, self._waiting = self._waiting[:room], self._waiting[room:]
            try:
                with torch.inference_mode():
                    for request in joining:
                        self._prefill_or_fail(request)
                    started = time.perf_counter()
                    self._pick()
                    self.stats.pick_s += time.perf_counter() - started
                    if self._rows:
                        self._step()
            except Exception as error:  # noqa: BLE001 (re-raised in every request in flight)
                for request in set(self._rows) | set(joining):
                    request.out.put(error)
                self._rows, self._pads, self._cache = [], [], None

    def _prefill_or_fail(self, request: _Request) -> None:
        try:
            self._prefill(request)
        except Exception as error:  # noqa: BLE001 (re-raised in its caller: a too-long prompt)
            request.out.put(error)

    def _prefill(self, request: _Request) -> None:
        layers = self.model.config.num_hidden_layers
        states, shared = self._longest_prefix(request.prompt)
        cache = Cache(layers=[KVLayer(k[:, :, :shared], v[:, :, :shared]) for k, v in states]
                      if states else [KVLayer() for _ in range(layers)])
        fresh = request.prompt[shared:]
        started = time.perf_counter()
        out = self.model(input_ids=torch.tensor([fresh]),
                         position_ids=torch.arange(shared, len(request.prompt)).unsqueeze(0),
                         cache=cache, use_cache=True, logits_to_keep=1)
        self.stats.prefill_s += time.perf_counter() - started
        self.stats.prefilled_tokens += len(fresh)
        request.logits, request.ids = out.logits[0, -1].float(), list(request.prompt)
        self._join(request, cache)

    def _longest_prefix(self, prompt: list[int]) -> tuple[States | None, int]:
        """Keys for the longest start of ``prompt`` found in the pool or in a request still
        decoding: twenty customers arriving at once prefill the system block once, not twenty
        times."""
        states, shared = self.pool.best(prompt)
        for row, request in enumerate(self._rows):
            if (length := shared_length(request.ids, prompt)) > shared:
                pad = self._pads[row]
                states, shared = [(layer.keys[row:row + 1, :, pad:], layer.values[row:row + 1, :, pad:])
                                  for layer in self._cache.layers], length
        return states, shared

    def _join(self, request: _Request, cache: Cache) -> None:
        if self._cache is None:
            self._cache, self._rows, self._pads = cache, [request], [0]
            return
        length, new = self._cache.layers[0].length, len(request.ids)
        pad_old, pad_new = max(0, new - length), max(0, length - new)
        for mine, theirs in zip(self._cache.layers, cache.layers):
            mine.join(theirs, pad_old, pad_new)
        self._rows.append(request)
        self._pads = [pad + pad_old for pad in self._pads] + [pad_new]

    def _pick(self) -> None:
        """Choose each row's next token; rows that finished, failed or were dropped leave."""
        keep, finished = [], []
        for index, request in enumerate(self._rows):
            if request.cancelled:
                continue
            try:
                logits = request.hook(request.logits) if request.hook else request.logits
                token = pick(logits, request.sampling, request.generator)
                if request.observe:
                    request.observe(token)
            except Exception as error:  # noqa: BLE001 (its hook failed: re-raised in its caller)
                request.out.put(error)
                continue
            request.out.put(token)
            request.produced += 1
            if token in request.stop_ids or request.produced >= request.sampling.max_new_tokens:
                self._save(index, request)
                finished.append(request)
                continue
            request.next_token = token
            keep.append(index)
        if len(keep) < len(self._rows):
            self._keep(keep)
        for request in finished:  # after the tensor work: a caller may exit the process next
            request.out.put(_END)

    def _save(self, index: int, request: _Request) -> None:
        states = [layer.row(index, self._pads[index]) for layer in self._cache.layers]
        self.pool.add(SavedPrefix(list(request.ids), states))

    def _keep(self, rows: list[int]) -> None:
        if not rows:
            self._rows, self._pads, self._cache = [], [], None
            return
        padding = min(self._pads[i] for i in rows)
        trims = {layer.select(rows, padding) for layer in self._cache.layers}
        trim = trims.pop()  # every layer has the same length, so the same choice
        self._rows = [self._rows[i] for i in rows]
        self._pads = [self._pads[i] - trim for i in rows]

    def _step(self) -> None:
        """One forward pass over the next token of every row."""
        length, rows = self._cache.layers[0].length, len(self._rows)
        started = time.perf_counter()
        mask = torch.ones(rows, length + 1, dtype=torch.long)
        for row, pad in enumerate(self._pads):
            mask[row, :pad] = 0
        out = self.model(input_ids=torch.tensor([[r.next_token] for r in self._rows]),
                         position_ids=torch.tensor([[len(r.ids)] for r in self._rows]),
                         attention_mask=mask, cache=self._cache, use_cache=True,
                         logits_to_keep=1)
        logits = out.logits[:, -1].float()
        for row, request in enumerate(self._rows):
            request.ids.append(request.next_token)
            request.logits = logits[row]
        stats = self.stats
        stats.steps, stats.rows_stepped = stats.steps + 1, stats.rows_stepped + rows
        stats.step_s += time.perf_counter() - started
        stats.largest_batch = max(stats.largest_batch, rows)
