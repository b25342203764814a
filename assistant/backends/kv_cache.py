"""The keys and values the decode loop keeps: one layer's cache for a batch of rows, written in
place, and the pool of finished requests' prefixes a new prompt can start from."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.cache_utils import DynamicLayer

ROOM = 256  # free positions kept after a cache's last token, so decoding writes in place


class KVLayer(DynamicLayer):
    """One layer's keys and values, ``[rows, heads, length, dim]``, with free room after the
    last position: a new token is written in place (``DynamicLayer`` concatenates, a copy of
    the layer's whole cache per token). Rows are left-padded to one length by the batch."""

    def __init__(self, keys: torch.Tensor | None = None, values: torch.Tensor | None = None):
        super().__init__()
        self.buffers: list[torch.Tensor] = []
        self.length = 0
        if keys is not None:
            self.store(keys, values)

    def store(self, keys: torch.Tensor, values: torch.Tensor, room: int = ROOM) -> None:
        """Copy ``keys``/``values`` into fresh buffers with ``room`` free positions."""
        self.length = keys.shape[-2]
        self.buffers = []
        for states in (keys, values):
            rows, heads, _, dim = states.shape
            buffer = states.new_zeros(rows, heads, self.length + room, dim)
            buffer[:, :, :self.length] = states
            self.buffers.append(buffer)
        self.is_initialized, self.device = True, keys.device
        self._views()

    def _views(self) -> None:
        self.keys, self.values = (b[:, :, :self.length] for b in self.buffers)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.buffers:
            self.store(key_states, value_states)
            return self.keys, self.values
        new = key_states.shape[-2]
        if self.length + new > self.buffers[0].shape[-2]:
            self.store(self.keys, self.values, room=new + ROOM)
        for buffer, states in zip(self.buffers, (key_states, value_states)):
            buffer[:, :, self.length:self.length + new] = states
        self.length += new
        self._views()
        return self.keys, self.values

    def select(self, rows: list[int], trim: int) -> int:
        """Keep ``rows`` (ascending); returns how many leading positions were dropped. The kept
        rows move up in place, and the buffers become views of the first rows: no copy of the
        batch each time a request leaves. The ``trim`` positions of padding every kept row has
        are dropped only when they are over a quarter of the length (that needs a copy); until
        then the attention mask hides them."""
        if trim * 4 > self.length:
            index = torch.tensor(rows)
            self.store(self.keys[index, :, trim:], self.values[index, :, trim:])
            return trim
        for target, source in enumerate(rows):
            if target != source:
                for buffer in self.buffers:
                    buffer[target, :, :self.length] = buffer[source, :, :self.length]
        self.buffers = [buffer[:len(rows)] for buffer in self.buffers]
        self._views()
        return 0

    def join(self, other: KVLayer, pad_old: int, pad_new: int) -> None:
        """Append ``other``'s single row below these rows, left-padding each side as given."""
        old_rows = self.keys.shape[0]
        length = self.length + pad_old
        self.buffers = [
            self._joined(mine, theirs, old_rows, length, pad_old, pad_new)
            for mine, theirs in ((self.keys, other.keys), (self.values, other.values))]
        self.length = length
        self._views()

    @staticmethod
    def _joined(mine, theirs, old_rows, length, pad_old, pad_new) -> torch.Tensor:
        _, heads, _, dim = mine.shape
        buffer = mine.new_zeros(old_rows + 1, heads, length + ROOM, dim)
        buffer[:old_rows, :, pad_old:length] = mine
        buffer[old_rows:, :, pad_new:length] = theirs
        return buffer

    def row(self, index: int, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A copy of one row's keys and values from position ``start`` (after its padding)."""
        return (self.keys[index:index + 1, :, start:].clone(),
                self.values[index:index + 1, :, start:].clone())


States = list[tuple[torch.Tensor, torch.Tensor]]  # one layer's keys and values, one row


def shared_length(ids: list[int], prompt: list[int]) -> int:
    """Leading tokens ``ids`` shares with ``prompt[:-1]`` (the last prompt token is always run,
    to get the logits of the first new token)."""
    shared = 0
    for a, b in zip(ids, prompt[:-1]):
        if a != b:
            break
        shared += 1
    return shared


@dataclass
class SavedPrefix:
    """The keys of a finished request, kept for a later prompt that starts the same way."""

    ids: list[int]
    states: States


class PrefixPool:
    """The caches of the last ``size`` finished requests; a conversation's next turn, or any
    prompt with the same system block, prefills only the tokens after the longest match."""

    def __init__(self, size: int):
        self.size = size
        self.saved: list[SavedPrefix] = []

    def best(self, prompt: list[int]) -> tuple[States | None, int]:
        """The states of the entry sharing the most leading tokens with ``prompt``, and how
        many it shares."""
        best, best_shared = None, 0
        for entry in self.saved:
            shared = shared_length(entry.ids, prompt)
            if shared > best_shared:
                best, best_shared = entry, shared
        if best is None:
            return None, 0
        self.saved.remove(best)  # most recently used last: the last to be evicted
        self.saved.append(best)
        return best.states, best_shared

    def add(self, entry: SavedPrefix) -> None:
        """Keep ``entry``; an entry it extends (the same conversation, earlier) goes."""
        self.saved = [s for s in self.saved if s.ids != entry.ids[:len(s.ids)]]
        self.saved.append(entry)
        del self.saved[:-self.size]
