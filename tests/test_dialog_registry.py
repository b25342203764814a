"""The dialog model is registered as the serving version of `dialog/<shop>` when built; its
folder is trained in place, so the registry refuses to roll back to a build it no longer holds."""

import json

import pytest

from finetune import registry
from finetune.dialog.train import record_build


def built(out, created_at: str, loss: float) -> dict:
    """The meta.json a training writes (the fields the registry reads)."""
    meta = {"preset": "quick", "base": "base", "seed": 42, "created_at": created_at,
            "loss_first10": 2.5, "loss_last10": loss, "steps_done": 160, "train_examples": 900}
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").write_text(json.dumps(meta))
    return meta


def test_each_build_serves_and_an_overwritten_one_cannot_come_back(settings):
    out = settings.artifacts_dir / "dialog" / "quick"
    first = record_build(settings, out, built(out, "2026-12-01T10:00:00Z", 0.4))
    slot = registry.load(settings).slot(registry.dialog_slot(settings.shop))
    assert slot.serving.version == first and slot.serving.metrics["train"]["loss_last10"] == 0.4
    second = record_build(settings, out, built(out, "2026-12-02T10:00:00Z", 0.3))
    slot = registry.load(settings).slot(registry.dialog_slot(settings.shop))
    assert slot.serving.version == second and slot.get(first).status == "retired"
    with pytest.raises(registry.RegistryError, match="rebuilt in place"):
        registry.rollback(settings, registry.dialog_slot(settings.shop))
    assert registry.load(settings).slot(registry.dialog_slot(settings.shop)).serving.version \
        == second
