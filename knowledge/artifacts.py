"""Artifacts on disk, written one way: a folder's ``meta.json`` (with a UTC ``created_at``), and a
file or folder replaced atomically (built beside it, swapped in only when complete).

Every trained model and index (``artifacts_dir/...``) and the warehouse file go through here, so
a reader sees the old version or the new one, never half of one, and every timestamp reads the
same way.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel


def utc_now() -> str:
    """Now in UTC, ISO 8601 with microseconds (``2026-11-01T09:00:00.000000+00:00``): the
    ``created_at`` of every artifact; fixed width, so the strings sort in time order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def write_meta(folder: Path, meta: BaseModel | dict) -> Path:
    """Write ``folder/meta.json`` (a model's fields, or the dict, indented), replacing it
    atomically; a meta without a ``created_at`` gets one (``utc_now``)."""
    if isinstance(meta, BaseModel):
        text = meta.model_dump_json(indent=2)
    else:
        text = json.dumps({**meta, "created_at": meta.get("created_at") or utc_now()}, indent=2)
    path = Path(folder) / "meta.json"
    tmp = path.with_name(f".meta.json.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def replaced(path: Path) -> Iterator[Path]:
    """A staging path beside ``path`` for its new version (a file or a folder): swapped in when
    the block succeeds, removed when it fails, so the previous version stays exactly as it was
    until the new one is complete. The block creates the staging file or folder itself."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and path.exists():  # a folder cannot be renamed over a full one
            old = path.with_name(f".{path.name}.{os.getpid()}.old")
            _remove(old)
            os.replace(path, old)
            os.replace(tmp, path)
            _remove(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
