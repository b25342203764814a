"""The model registry: which trained version of each model is serving, which are candidates,
which are retired, and the serving history that `rollback` walks back.

One JSON file beside the artifacts (``artifacts_dir/registry.json``). A slot is one servable
model (``behavior/<shop>/<task>``, ``recommend/<shop>``, ``uplift/<shop>/<campaign>``,
``dialog/<shop>``, ``knowledge/<shop>``); each version names its artifact folder (relative to
``artifacts_dir``), its data window and its held-out metrics. Version folders are never changed
after training, so promoting or rolling back only rewrites this file: the new file is written
beside the old one and renamed over it (``knowledge.artifacts.replaced``), and a reader sees the
old registry or the new one, never half of one. Writers take an exclusive lock on
``registry.lock`` for the read-modify-write.

Why not MLflow's registry: it needs a tracking store and the ``mlflow`` package (Flask,
SQLAlchemy, Alembic, Graphene and more) for what is here one small file; the fields below map
onto its registered-model versions and aliases if a shop outgrows the file.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from knowledge.artifacts import replaced, utc_now
from knowledge.settings import Settings

Status = Literal["candidate", "serving", "retired"]
FILE = "registry.json"


class RegistryError(ValueError):
    """A registry request that cannot be carried out; the message says why."""


class Version(BaseModel):
    version: str
    path: str = Field(description="artifact folder, relative to artifacts_dir")
    model: str = Field(description="model kind, e.g. lightgbm")
    data_window: dict[str, Any] = Field(default_factory=dict,
                                        description="train/val/test cutoffs and data end")
    metrics: dict[str, dict] = Field(default_factory=dict, description="held-out: val, test")
    status: Status = "candidate"
    created_at: str = Field(default_factory=utc_now)
    changed_at: str = Field(default_factory=utc_now)
    note: str = Field("", description="why it has its status (the gate's verdict)")


class Slot(BaseModel):
    versions: list[Version] = Field(default_factory=list)
    history: list[str] = Field(default_factory=list,
                               description="serving versions, oldest first; the last serves")

    def get(self, version: str) -> Version:
        for v in self.versions:
            if v.version == version:
                return v
        raise RegistryError(f"unknown version {version!r}; `shopmind models list` shows the "
                            "registered ones")

    @property
    def serving(self) -> Version | None:
        return self.get(self.history[-1]) if self.history else None


class Registry(BaseModel):
    slots: dict[str, Slot] = Field(default_factory=dict)

    def slot(self, name: str) -> Slot:
        if name not in self.slots:
            raise RegistryError(f"unknown model slot {name!r}; known: "
                                f"{', '.join(sorted(self.slots)) or 'none registered yet'}")
        return self.slots[name]

    def find(self, version: str) -> tuple[str, Version]:
        """(slot, version) of a version name, in whichever slot it is."""
        for name, slot in self.slots.items():
            for v in slot.versions:
                if v.version == version:
                    return name, v
        raise RegistryError(f"unknown version {version!r}; `shopmind models list` shows the "
                            "registered ones")


def behavior_slot(shop: str, task: str) -> str:
    return f"behavior/{shop}/{task}"


def dialog_slot(shop: str) -> str:
    return f"dialog/{shop}"


def knowledge_slot(shop: str) -> str:
    return f"knowledge/{shop}"


def recommend_slot(shop: str) -> str:
    return f"recommend/{shop}"


def uplift_slot(shop: str, campaign_id: str) -> str:
    return f"uplift/{shop}/{campaign_id}"


def path(settings: Settings) -> Path:
    return settings.artifacts_dir / FILE


def load(settings: Settings) -> Registry:
    """The registry as last written (empty when nothing was registered)."""
    file = path(settings)
    return Registry.model_validate(json.loads(file.read_text())) if file.is_file() else Registry()


@contextmanager
def updating(settings: Settings) -> Iterator[Registry]:
    """Lock, load, let the block change the registry, then swap the new file in atomically.
    An exception in the block leaves the file as it was."""
    settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.artifacts_dir / "registry.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        registry = load(settings)
        yield registry
        with replaced(path(settings)) as tmp:
            tmp.write_text(registry.model_dump_json(indent=2))


def register(settings: Settings, slot: str, version: Version) -> Version:
    """Add a version as a candidate (again: replaced, keeping nothing of the old entry)."""
    with updating(settings) as registry:
        entries = registry.slots.setdefault(slot, Slot())
        entries.versions = [v for v in entries.versions if v.version != version.version]
        entries.versions.append(version.model_copy(update={"status": "candidate"}))
    return version


def artifact_folder(settings: Settings, version: Version) -> Path:
    """The version's folder, or a RegistryError when it is gone or holds another build (an
    artifact rebuilt in place, like the dialog model: its meta.json has another created_at)."""
    folder = settings.artifacts_dir / version.path
    if not (folder / "meta.json").is_file():
        raise RegistryError(f"missing artifact for {version.version}: {folder} has no meta.json "
                            "(deleted or moved); retrain or roll back")
    built = json.loads((folder / "meta.json").read_text()).get("created_at", version.created_at)
    if built != version.created_at:
        raise RegistryError(f"missing artifact for {version.version}: {folder} was rebuilt in "
                            f"place since (it holds the build of {built}); retrain instead")
    return folder


def serving_folder(settings: Settings, slot: str) -> Path | None:
    """The folder of the slot's serving version; None when the slot is not registered, a
    RegistryError when nothing serves (the gate refused every candidate) or the folder is gone."""
    entries = load(settings).slots.get(slot)
    if entries is None:
        return None
    if entries.serving is None:
        raise RegistryError(
            f"no version of {slot} serves: the promotion gate refused every candidate "
            "(`shopmind models list` says why; `shopmind models promote VERSION` serves one "
            "anyway)")
    return artifact_folder(settings, entries.serving)


def record_build(settings: Settings, slot: str, version: Version) -> Version:
    """Register a version that serves as soon as it is built (no gate), in one update."""
    register(settings, slot, version)
    return promote(settings, slot, version.version, note=version.note)


def promote(settings: Settings, slot: str, version: str, note: str = "") -> Version:
    """Make a candidate the serving version; the one it replaces is retired."""
    with updating(settings) as registry:
        entries = registry.slot(slot)
        chosen = entries.get(version)
        if chosen.status == "retired":
            raise RegistryError(f"{version} is retired and cannot be promoted; "
                                "`shopmind models rollback` restores the previous serving version")
        if chosen.status == "serving":
            return chosen
        artifact_folder(settings, chosen)
        now = utc_now()
        if entries.serving is not None:
            entries.serving.status, entries.serving.changed_at = "retired", now
        chosen.status, chosen.changed_at = "serving", now
        chosen.note = note or chosen.note
        entries.history.append(version)
        return chosen


def rollback(settings: Settings, slot: str) -> Version:
    """Retire the serving version and serve the one before it again."""
    with updating(settings) as registry:
        entries = registry.slot(slot)
        if len(entries.history) < 2:
            raise RegistryError(f"no previous version to roll back to in {slot}: "
                                f"{len(entries.history)} version(s) ever served")
        previous = entries.get(entries.history[-2])
        artifact_folder(settings, previous)
        now = utc_now()
        current = entries.serving
        current.status, current.changed_at = "retired", now
        current.note = f"rolled back at {now}"
        previous.status, previous.changed_at = "serving", now
        entries.history.pop()
        return previous


def set_note(settings: Settings, slot: str, version: str, note: str) -> None:
    with updating(settings) as registry:
        registry.slot(slot).get(version).note = note
