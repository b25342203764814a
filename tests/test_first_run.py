"""`shopmind up` on a new machine: it refuses a preset the memory cannot hold before anything
starts, trains no dialog model when a served one is configured (and checks that endpoint), and
while the dialog model trains in the background the chat says when it will answer."""

from __future__ import annotations

import pytest

from assistant.stages import StageError, check_endpoint, check_memory
from finetune.dialog.base import dialog_model_path
from finetune.dialog.train import write_progress
from knowledge.settings import Settings


def test_up_refuses_a_preset_the_memory_cannot_hold(tmp_path, monkeypatch):
    from assistant import stages as pipeline

    monkeypatch.setattr(pipeline, "available_memory_gib", lambda: 3.5)
    with pytest.raises(StageError, match=r"needs about 7 GiB .* has 3\.5 GiB available"):
        check_memory(Settings(artifacts_dir=tmp_path))
    monkeypatch.setattr(pipeline, "available_memory_gib", lambda: 20.0)
    assert check_memory(Settings(artifacts_dir=tmp_path)) is None


def test_a_served_backend_means_no_dialog_training_and_a_checked_endpoint(tmp_path):
    from assistant import stages as pipeline

    settings = Settings(artifacts_dir=tmp_path, backend_url="http://127.0.0.1:9/v1",
                        backend_api_key="sk-secret-value")
    assert pipeline._dialog_done(settings)
    assert check_memory(settings) is None  # nothing to train, nothing to refuse
    with pytest.raises(StageError) as err:
        check_endpoint(settings, timeout=2)
    assert "does not answer GET /models" in str(err.value)
    assert "sk-secret-value" not in str(err.value) and "sk-secret-value" not in repr(settings)


def test_the_chat_says_when_a_model_still_training_will_answer(tmp_path):
    from assistant.api.service import ChatService, ModelUnavailableError
    from assistant.store import Store

    settings = Settings(artifacts_dir=tmp_path)
    out = dialog_model_path(settings)
    out.parent.mkdir(parents=True)
    write_progress(out.with_name(out.name + ".progress.json"), "full", run_now=10, step=30,
                   steps=408, seconds=90.0)
    service = ChatService(settings, store=Store(tmp_path / "conversations.sqlite"))
    with pytest.raises(ModelUnavailableError) as err:
        service.load_model()
    assert str(err.value).startswith("The assistant's dialog model is still training")
    assert "step 30 of 408" in str(err.value) and "about 57 minutes" in str(err.value)
