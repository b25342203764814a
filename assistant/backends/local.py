"""The in-process CPU backend: a Hugging Face causal LM folder (our dialog artifact, the base
model, any ChatML instruct checkpoint) behind ``chat`` / ``stream``.

Tool calls are generated in the Hermes format of the chat template and parsed into OpenAI
``tool_calls``. ``tool_choice`` is honoured by steering the first token: ``none`` forbids
``<tool_call>``, ``required`` and a named tool force it (and, when constrained, the guide only
offers the named tool). With ``constrained=True`` every call is grammar-constrained JSON, and
with ``grounded=True`` (the default) its identifiers are copied from the conversation
(``grounding.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import torch

from assistant.backends.constrain import ToolCallGuide
from assistant.backends.decode import Decoder, Sampling
from assistant.backends.grounding import GroundedCall, Grounding
from assistant.backends.types import ChatRequest, ChatResult, StreamDelta
from finetune.dialog.format import END_OF_TURN, TOOL_CALL_START, parse_hermes
from finetune.dialog.precision import Precision, resolve


class BackendError(ValueError):
    """A request the backend cannot serve (bad tool_choice, missing model); says why."""


def load_model(path: str | Path, precision: Precision = "fp32"):
    """Tokenizer and model of a dialog folder, ready for inference.

    ``int8``: dynamic int8 quantisation of every Linear layer (weights int8, activations
    quantised on the fly). Decoding one token on a CPU reads every weight once, so a quarter
    of the fp32 bytes makes it ~3x faster on two cores, but the 135M model then picks wrong
    tools more often (BENCHMARKS.md), hence the bf16 default of ``dialog_precision``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise BackendError(
            f"dialog model {path} not found; build it with `shopmind train dialog --preset quick` "
            "or point dialog_model at a Hugging Face model folder"
        )
    if precision not in get_args(Precision):
        raise BackendError(f"unknown precision {precision!r}; use one of {get_args(Precision)}")
    precision = resolve(precision)
    tokenizer = AutoTokenizer.from_pretrained(path)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()
    if precision == "int8":
        from torch.ao.quantization import quantize_dynamic

        model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return tokenizer, model


def _choose_tools(request: ChatRequest) -> tuple[list[dict], bool, bool]:
    """(tools offered to the guide, force a call, forbid calls) for the request's tool_choice."""
    tools = request.tools or []
    choice = request.tool_choice
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        named = [t for t in tools if t.get("function", t).get("name") == name]
        if not named:
            raise BackendError(f"tool_choice names {name!r}, which is not in `tools`")
        return named, True, False
    if choice == "required" and not tools:
        raise BackendError("tool_choice 'required' needs a non-empty `tools` list")
    return tools, choice == "required", choice == "none" or not tools


class LocalBackend:
    """One model in this process; concurrent requests are decoded in one batch (``decode.py``),
    each streamed token by token."""

    def __init__(self, path: str | Path, constrained: bool = False,
                 precision: Precision = "fp32", threads: int | None = None,
                 grounded: bool = True, max_batch: int = 16):
        if threads:
            torch.set_num_threads(threads)
        self.name = Path(path).name
        self.tokenizer, self.model = load_model(path, precision)
        self.precision = resolve(precision)  # what "auto" became on this CPU
        self.constrained, self.grounded = constrained, grounded
        self.decoder = Decoder(self.model, max_batch=max_batch, pool_size=max_batch)
        self.tokenizer_lock = threading.Lock()  # the Rust tokenizer is not safe to share
        vocab = self.tokenizer.get_vocab()
        self.call_id = vocab.get(TOOL_CALL_START)
        self.stop_ids = {vocab[t] for t in (END_OF_TURN, "<|endoftext|>") if t in vocab}

    def prompt_ids(self, request: ChatRequest) -> list[int]:
        with self.tokenizer_lock:
            return self.tokenizer.apply_chat_template(
                request.messages, tools=request.tools or None, add_generation_prompt=True,
                tokenize=True, return_dict=False,
            )

    def chat(self, request: ChatRequest) -> ChatResult:
        text, finish, prompt_len, produced = "", "stop", 0, 0
        for delta in self._generate(request):
            text += delta.content
            finish, prompt_len, produced = delta.finish_reason or finish, delta.prompt_tokens, \
                delta.completion_tokens
        reply = parse_hermes(text)
        return ChatResult(
            content=reply.content, tool_calls=reply.openai_tool_calls(),
            finish_reason="tool_calls" if reply.calls else finish,
            prompt_tokens=prompt_len, completion_tokens=produced,
            invalid_tool_calls=reply.invalid,
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamDelta]:
        """Content deltas until a tool call starts (``<tool_call>`` is one token, so it never
        arrives split); the parsed calls come with the last delta."""
        text, sent = "", 0
        for delta in self._generate(request):
            text += delta.content
            visible = text.split(TOOL_CALL_START, 1)[0]
            if delta.finish_reason is None:
                if len(visible) > sent:
                    yield StreamDelta(content=visible[sent:])
                    sent = len(visible)
                continue
            calls = parse_hermes(text).openai_tool_calls()
            yield StreamDelta(content=visible[sent:], tool_calls=calls,
                              finish_reason="tool_calls" if calls else delta.finish_reason,
                              prompt_tokens=delta.prompt_tokens,
                              completion_tokens=delta.completion_tokens)

    def _generate(self, request: ChatRequest) -> Iterator[StreamDelta]:
        """Raw text deltas (tool-call markup included); the last one has finish_reason."""
        tools, force, forbid = _choose_tools(request)
        constrained = self.constrained if request.constrained is None else request.constrained
        sampling = Sampling(request.max_tokens, request.temperature, request.top_p, request.seed)
        prompt = self.prompt_ids(request)
        grounding = (Grounding(tools, request.messages)
                     if constrained and tools and self.grounded else None)
        state = _CallState(self, tools, constrained and bool(tools), force, forbid, grounding)
        ids: list[int] = []
        shown, finish = "", "length"
        for token in self.decoder.run(prompt, sampling, self.stop_ids, state.hook, state.observe):
            if token in self.stop_ids:
                finish = "stop"
                break
            ids.append(token)
            text = self.tokenizer.decode(ids)
            if text.endswith("\ufffd"):  # an unfinished multi-byte character
                continue
            cut = _first_stop(text, request.stop)
            if cut is not None:
                text, finish = text[:cut], "stop"
            if len(text) > len(shown):
                yield StreamDelta(content=text[len(shown):])
                shown = text
            if cut is not None:
                break
        yield StreamDelta(finish_reason=finish, prompt_tokens=len(prompt),
                          completion_tokens=len(ids))


def _first_stop(text: str, stops: list[str]) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None


class _CallState:
    """Steers one generation: forces or forbids ``<tool_call>`` and runs the grammar guide
    inside each call when constrained; with a ``grounding``, a call no offered tool can make
    (each needs an identifier nobody gave) is forbidden and identifiers are grounded."""

    def __init__(self, backend: LocalBackend, tools: list[dict[str, Any]], constrained: bool,
                 force: bool, forbid: bool, grounding: Grounding | None = None):
        self.backend, self.tools, self.constrained = backend, tools, constrained
        self.grounding = grounding
        self.force = force
        self.forbid = forbid or (grounding is not None and not grounding.names and not force)
        self.guide: ToolCallGuide | None = None
        self.grounded: GroundedCall | None = None
        self.first = True

    def hook(self, logits: torch.Tensor) -> torch.Tensor:
        call_id = self.backend.call_id
        if self.guide is not None:
            logits = self.guide.mask(logits)
            return self.grounded.mask(logits) if self.grounded is not None else logits
        if call_id is None:
            return logits
        if self.first and self.force:
            forced = torch.full_like(logits, float("-inf"))
            forced[call_id] = 0.0
            return forced
        if self.forbid:
            logits = logits.clone()
            logits[call_id] = float("-inf")
        return logits

    def observe(self, token: int) -> None:
        self.first = False
        if self.guide is not None:
            self.guide.advance(token)
            if self.grounded is not None:
                self.grounded.advance(token)
            if self.guide.done:
                self.guide = self.grounded = None
        elif token == self.backend.call_id and self.constrained:
            self.guide = ToolCallGuide(self.backend.tokenizer, self.tools)
            if self.grounding is not None:
                self.grounded = GroundedCall(self.grounding, self.backend.tokenizer)
