"""Dialog-model backends behind one interface (smolagents-style): the agent asks
``make_chat_model(settings)`` for a LangChain chat model and never knows which one it got.

- ``settings.backend_url`` set: ``ChatOpenAI`` against that OpenAI-compatible endpoint
  (vLLM, ``shopmind serve-model``), model name ``settings.dialog_model``.
- otherwise: ``LocalChatModel`` over ``LocalBackend`` loading the folder ``settings.dialog_model``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from knowledge.settings import Settings


@lru_cache(maxsize=2)
def local_backend(path: str, constrained: bool = False, precision: str = "fp32",
                  max_batch: int = 16) -> Any:
    """One loaded model per folder per process."""
    from assistant.backends.local import LocalBackend

    return LocalBackend(path, constrained=constrained, precision=precision, max_batch=max_batch)


class ModelNotReady(RuntimeError):
    """The in-process dialog model is still being trained; the message says when it answers."""


def make_chat_model(settings: Settings, **kwargs: Any) -> Any:
    """A ``langchain_core`` ``BaseChatModel`` supporting ``bind_tools`` and streaming."""
    if settings.backend_url:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(base_url=settings.backend_url, model=settings.dialog_model,
                          api_key=settings.backend_key or "not-needed", temperature=0, **kwargs)
    from assistant.backends.langchain_local import LocalChatModel
    from finetune.dialog.base import dialog_model_path
    from finetune.dialog.train import is_built, read_progress

    progress = None if is_built(settings) else read_progress(dialog_model_path(settings))
    if progress is not None:
        raise ModelNotReady(progress.sentence())
    backend = local_backend(str(dialog_model_path(settings)), settings.dialog_constrained,
                            settings.dialog_precision, settings.dialog_max_batch)
    return LocalChatModel(backend=backend, **kwargs)
