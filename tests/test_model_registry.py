"""The model registry: promote, rollback, their refusals, and atomic swaps under readers."""

import threading

import pytest

from finetune import registry
from finetune.registry import RegistryError, Version

SLOT = "behavior/shop/purchase_30d"


def add(settings, name: str, with_folder: bool = True) -> Version:
    folder = settings.artifacts_dir / "behavior" / "shop" / "purchase_30d" / name
    if with_folder:
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text("{}")
    return registry.register(settings, SLOT, Version(
        version=name, path=str(folder.relative_to(settings.artifacts_dir)), model="logreg",
        metrics={"test": {"roc_auc": 0.8, "ece": 0.02}}))


def test_promote_retires_the_serving_version_and_rollback_restores_it(settings):
    add(settings, "v1"), add(settings, "v2")
    registry.promote(settings, SLOT, "v1")
    registry.promote(settings, SLOT, "v2")
    slot = registry.load(settings).slot(SLOT)
    assert slot.serving.version == "v2" and slot.get("v1").status == "retired"
    restored = registry.rollback(settings, SLOT)
    slot = registry.load(settings).slot(SLOT)
    assert restored.version == "v1" == slot.serving.version
    assert slot.get("v2").status == "retired" and slot.history == ["v1"]


def test_refusals_say_what_is_wrong(settings):
    add(settings, "v1"), add(settings, "v2"), add(settings, "gone", with_folder=False)
    with pytest.raises(RegistryError, match="unknown version 'v9'"):
        registry.promote(settings, SLOT, "v9")
    with pytest.raises(RegistryError, match="unknown model slot"):
        registry.rollback(settings, "behavior/shop/click_7d")
    registry.promote(settings, SLOT, "v1")
    with pytest.raises(RegistryError, match="no previous version to roll back to"):
        registry.rollback(settings, SLOT)
    with pytest.raises(RegistryError, match="missing artifact for gone"):
        registry.promote(settings, SLOT, "gone")
    registry.promote(settings, SLOT, "v2")
    with pytest.raises(RegistryError, match="v1 is retired and cannot be promoted"):
        registry.promote(settings, SLOT, "v1")
    assert registry.load(settings).slot(SLOT).serving.version == "v2"  # nothing changed


def test_readers_never_see_half_a_registry_during_promotions(settings):
    add(settings, "v1")
    registry.promote(settings, SLOT, "v1")
    for i in range(2, 32):
        add(settings, f"v{i}")
    seen, errors, done = set(), [], threading.Event()

    def read():
        while not done.is_set():
            try:
                seen.add(registry.load(settings).slot(SLOT).serving.version)
            except (ValueError, OSError) as err:  # a torn file: JSON or pydantic error
                errors.append(err)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    for i in range(2, 32):  # a retired version is not promoted again: a new one each time
        registry.promote(settings, SLOT, f"v{i}")
        registry.rollback(settings, SLOT)
    done.set()
    for r in readers:
        r.join()
    assert not errors and "v1" in seen and seen <= {f"v{i}" for i in range(1, 32)}
    assert registry.load(settings).slot(SLOT).serving.version == "v1"


def test_a_failed_update_leaves_the_registry_as_it_was(settings):
    add(settings, "v1")
    registry.promote(settings, SLOT, "v1")
    before = registry.path(settings).read_text()
    with pytest.raises(RuntimeError), registry.updating(settings) as reg:
        reg.slot(SLOT).history.clear()
        raise RuntimeError("killed half-way")
    assert registry.path(settings).read_text() == before


@pytest.mark.parametrize("args, message", [
    (["show", "v9"], "unknown version 'v9'"),
    (["promote", "v1"], "v1 is retired and cannot be promoted"),
    (["rollback", SLOT], "no previous version to roll back to"),
])
def test_models_command_explains_each_refusal_in_one_line(settings, args, message):
    from typer.testing import CliRunner

    from assistant.cli import app

    add(settings, "v1"), add(settings, "v2")
    registry.promote(settings, SLOT, "v1")
    registry.promote(settings, SLOT, "v2")
    registry.rollback(settings, SLOT)  # v2 retired, v1 serving, nothing before it
    registry.promote(settings, SLOT, "v1")  # already serving: a no-op
    overrides = ["--set", f"artifacts_dir={settings.artifacts_dir}"]
    if args[0] == "promote":
        add(settings, "v3")
        registry.promote(settings, SLOT, "v3")  # v1 retired now
    result = CliRunner().invoke(app, [*overrides, "models", *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_models_list_shows_status_and_held_out_metrics(settings):
    from typer.testing import CliRunner

    from assistant.cli import app

    add(settings, "v1")
    registry.promote(settings, SLOT, "v1")
    result = CliRunner().invoke(app, ["--set", f"artifacts_dir={settings.artifacts_dir}",
                                      "models", "list"])
    assert result.exit_code == 0 and "serving" in result.output and "0.800" in result.output


def test_a_task_whose_candidates_were_all_refused_is_not_served(settings):
    from tools.behavior import served_model
    from tools.registry import ToolError

    add(settings, "v1")  # registered, never promoted: the gate refused it
    with pytest.raises(ToolError, match="refused every candidate"):
        served_model(settings.model_copy(update={"shop": "shop"}), "purchase", 30)
