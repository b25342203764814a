"""`shopmind retrain`: retrains only changed data, never runs twice at once, leaves the serving
versions untouched when killed half-way; the tool answers with the registry's serving version."""

import shutil

import duckdb
import pytest

from finetune import registry
from finetune.behavior import train as behavior_train
from finetune.retrain import RetrainBusyError, retrain, retrain_lock
from tests.behavior_data import build_tiny_warehouse, random_shop_events
from tools.behavior import predict

SLOT = "behavior/rand/purchase_30d"
BEHAVIOUR = ("behavior",)  # this shop is for the behaviour models


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_tiny_warehouse(tmp_path_factory.mktemp("retrain") / "rand.duckdb",
                                random_shop_events())


@pytest.fixture
def shop(settings, tmp_path, built):
    (tmp_path / "data").mkdir()
    shutil.copy(built, tmp_path / "data" / "rand.duckdb")
    return settings.model_copy(update={"warehouse_dir": tmp_path / "data", "shop": "rand",
                                       "gate_bootstrap": 200})


def served_version(shop) -> str:
    con = duckdb.connect(str(shop.warehouse), read_only=True)
    user = con.execute("SELECT min(user_id) FROM events").fetchone()[0]
    con.close()
    return predict(shop, user)["model"]["version"]


def test_retrain_promotes_then_skips_unchanged_data_and_rollback_reaches_the_tool(shop):
    lines = retrain(shop, stages=BEHAVIOUR)
    assert any(line.startswith("purchase_30d (test AUC") and "promoted" in line
               for line in lines), lines
    first = registry.load(shop).slot(SLOT).serving.version
    assert served_version(shop) == first
    assert all("skipped" in line for line in retrain(shop, stages=BEHAVIOUR))  # nothing changed
    retrain(shop, force=True, stages=BEHAVIOUR)
    second = registry.load(shop).slot(SLOT).serving.version
    assert second != first and served_version(shop) == second
    registry.rollback(shop, SLOT)
    assert served_version(shop) == first


def test_two_retrains_never_run_at_once(shop):
    with retrain_lock(shop), pytest.raises(RetrainBusyError, match="another retrain is running"):
        retrain(shop, stages=BEHAVIOUR)


def test_a_retrain_killed_half_way_leaves_the_serving_version(shop, monkeypatch):
    retrain(shop, stages=BEHAVIOUR)
    before = registry.path(shop).read_text()
    real = behavior_train.train_one
    calls = []

    def dies_on_the_second_model(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(behavior_train, "train_one", dies_on_the_second_model)
    with pytest.raises(KeyboardInterrupt):
        retrain(shop, force=True, stages=BEHAVIOUR)
    assert registry.path(shop).read_text() == before
    assert served_version(shop) == registry.load(shop).slot(SLOT).serving.version
