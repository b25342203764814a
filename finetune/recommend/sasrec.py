"""A small SASRec-style next-item model: a causal transformer over the user's last `max_len`
items, trained with full-softmax cross-entropy over the whole catalogue (no sampled
negatives), item embeddings tied between input and output."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from finetune.recommend.base import read_params, save_parts
from finetune.recommend.data import History, TrainData


class SASRecNet(nn.Module):
    def __init__(self, n_items: int, dim: int, layers: int, heads: int, max_len: int,
                 dropout: float):
        super().__init__()
        self.dim = dim
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=0)  # row 0 = padding
        self.pos = nn.Embedding(max_len, dim)
        block = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)
        for table in (self.item, self.pos):  # small init: tied output logits start near uniform
            nn.init.normal_(table.weight, std=0.02)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq: (batch, L) item rows + 1, right-padded with 0 -> hidden states (batch, L, dim).
        The causal mask keeps real positions from ever seeing the padding after them."""
        length = seq.shape[1]
        x = self.item(seq) + self.pos(torch.arange(length))
        causal = nn.Transformer.generate_square_subsequent_mask(length)
        return self.norm(self.encoder(self.drop(x), mask=causal, is_causal=True))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.item.weight[1:].T


def training_windows(histories: list[History], max_len: int, per_user: int) -> np.ndarray:
    """Cut each sequence, from its end, into at most `per_user` windows of max_len + 1 items
    (right-padded, item rows + 1). The cap keeps a few very long histories (wholesalers) from
    dominating training time."""
    windows = []
    for hist in histories:
        seq = hist.items[-(per_user * max_len + 1):] + 1
        for end in range(len(seq), 1, -max_len):
            chunk = seq[max(0, end - max_len - 1):end]
            windows.append(np.pad(chunk, (0, max_len + 1 - len(chunk))))
    return np.asarray(windows, dtype=np.int64).reshape(-1, max_len + 1)


class SASRec:
    name = "sasrec"

    def __init__(self, dim: int = 64, layers: int = 2, heads: int = 2, max_len: int = 50,
                 dropout: float = 0.2, epochs: int = 30, lr: float = 1e-3,
                 max_seconds: float = 300.0, windows_per_user: int = 4, seed: int = 42):
        self.params = {"dim": dim, "layers": layers, "heads": heads, "max_len": max_len,
                       "dropout": dropout, "epochs": epochs, "lr": lr, "max_seconds": max_seconds,
                       "windows_per_user": windows_per_user, "seed": seed}
        self.net: SASRecNet | None = None
        self.n_items = 0
        self.epochs_done = 0.0  # how far training got within max_seconds

    def _build(self, n_items: int) -> SASRecNet:
        p = self.params
        self.n_items = n_items
        return SASRecNet(n_items, p["dim"], p["layers"], p["heads"], p["max_len"], p["dropout"])

    def fit(self, data: TrainData, progress: bool = True) -> SASRec:
        p = self.params
        torch.manual_seed(p["seed"])
        rng = np.random.default_rng(p["seed"])
        self.net = self._build(data.n_items)
        windows = torch.from_numpy(training_windows(list(data.histories.values()), p["max_len"],
                                                    p["windows_per_user"]))
        # keep the (batch x positions x items) logits around 50M floats, whatever the catalogue
        batch = int(np.clip(5e7 / (p["max_len"] * data.n_items), 8, 128))
        optim = torch.optim.AdamW(self.net.parameters(), lr=p["lr"], weight_decay=0.01)
        self.net.train()
        bar = tqdm(range(p["epochs"]), desc="sasrec", disable=not progress, leave=False)
        deadline = time.perf_counter() + p["max_seconds"]
        for _ in bar:
            order = torch.from_numpy(rng.permutation(len(windows)))
            total = seen = 0
            for start in range(0, len(windows), batch):
                if time.perf_counter() > deadline:
                    break
                chunk = windows[order[start:start + batch]]
                inputs, targets = chunk[:, :-1], chunk[:, 1:] - 1  # target -1 = padding
                logits = self.net.logits(self.net(inputs))
                loss = nn.functional.cross_entropy(
                    logits.reshape(-1, data.n_items), targets.reshape(-1), ignore_index=-1)
                optim.zero_grad()
                loss.backward()
                optim.step()
                total += loss.item() * len(chunk)
                seen += len(chunk)
                self.epochs_done += len(chunk) / len(windows)
            bar.set_postfix(loss=f"{total / max(seen, 1):.3f}")
            if time.perf_counter() > deadline:
                break
        self.net.eval()
        return self

    @torch.no_grad()
    def score(self, histories: list[History]) -> np.ndarray:
        max_len = self.params["max_len"]
        out = np.zeros((len(histories), self.n_items), dtype=np.float32)
        for start in range(0, len(histories), 256):
            part = histories[start:start + 256]
            seqs = [h.items[-max_len:] + 1 for h in part]
            lengths = torch.tensor([max(len(s), 1) for s in seqs])
            padded = torch.tensor(np.stack([np.pad(s, (0, max_len - len(s))) for s in seqs]))
            hidden = self.net(padded)[torch.arange(len(part)), lengths - 1]
            scores = self.net.logits(hidden).numpy()
            scores[[len(s) == 0 for s in seqs]] = 0.0  # no history, no opinion
            out[start:start + len(part)] = scores
        return out

    def save(self, folder: Path) -> None:
        save_parts(folder, {**self.params, "n_items": self.n_items})
        torch.save(self.net.state_dict(), folder / "model.pt")

    @classmethod
    def load(cls, folder: Path) -> SASRec:
        params = read_params(folder)
        n_items = params.pop("n_items")
        model = cls(**params)
        model.net = model._build(n_items)
        model.net.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
        model.net.eval()
        return model
