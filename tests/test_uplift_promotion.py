"""The uplift model's promotion gate (paired bootstrap of the Qini coefficient over held-out
users), registry versions for `uplift/<shop>/<campaign>`, and the tool following the registry."""

from __future__ import annotations

import numpy as np
import pytest

from finetune import registry
from finetune.uplift import train
from knowledge.settings import Settings
from tests.uplift_shop import write_toy_campaign
from tools.registry import ToolContext, ToolError, get_tool

SLOT = "uplift/toy/toy"


class ShuffledOutcomes:
    """An uplift model fitted on permuted outcomes: it ranks users at random."""

    def __init__(self, inner):
        self.inner = inner

    def fit(self, X, arm, y, propensity):
        self.inner.fit(X, arm, np.random.default_rng(1).permutation(y), propensity)
        return self

    def predict(self, X):
        return self.inner.predict(X)


class Reversed(ShuffledOutcomes):
    """A real uplift model with its predictions negated: it targets the users it hurts most."""

    def fit(self, X, arm, y, propensity):
        self.inner.fit(X, arm, y, propensity)
        return self

    def predict(self, X):
        return -self.inner.predict(X)


@pytest.fixture
def toy(tmp_path, uplift_experiment) -> Settings:
    settings = Settings(shop="toy", warehouse_dir=tmp_path / "data",
                        artifacts_dir=tmp_path / "artifacts", gate_bootstrap=300)
    write_toy_campaign(settings, uplift_experiment)
    return settings


def fit(settings: Settings) -> str:
    return train.train_campaign(settings, "toy", settings.warehouse, "toy",
                                model_name="t_learner", quick=True).version


def served_model(settings: Settings) -> str:
    answer = get_tool("suggest_intervention").invoke(ToolContext(settings, role="operator"),
                                                     {"user_id": "u0001"})
    return answer["model"]["version"]


def test_gate_refuses_an_uplift_model_fitted_on_shuffled_outcomes(toy, monkeypatch):
    first = fit(toy)
    assert registry.load(toy).slot(SLOT).serving.version == first
    real_build = train.build
    monkeypatch.setattr(train, "build", lambda *a, **k: ShuffledOutcomes(real_build(*a, **k)))
    broken = fit(toy)
    entry = registry.load(toy).slot(SLOT).get(broken)
    assert entry.status == "candidate" and "refused: Qini" in entry.note, entry.note
    assert served_model(toy) == first
    monkeypatch.setattr(train, "build", real_build)
    again = fit(toy)  # as good as the serving one: passes
    assert registry.load(toy).slot(SLOT).serving.version == again, \
        registry.load(toy).slot(SLOT).get(again).note


def test_promote_and_rollback_reach_the_tool(toy):
    first, second = fit(toy), fit(toy)
    assert served_model(toy) == second
    registry.rollback(toy, SLOT)
    assert served_model(toy) == first
    with pytest.raises(registry.RegistryError, match="retired"):
        registry.promote(toy, SLOT, second)


def test_a_first_model_that_ranks_worse_than_random_is_not_served(toy, monkeypatch):
    real_build = train.build
    monkeypatch.setattr(train, "build", lambda *a, **k: Reversed(real_build(*a, **k)))
    fit(toy)
    assert registry.load(toy).slot(SLOT).serving is None
    assert "first version refused: Qini" in registry.load(toy).slot(SLOT).versions[0].note
    with pytest.raises(ToolError, match="refused every candidate"):
        served_model(toy)


def test_retrain_trains_uplift_again_only_after_the_experiment_changed(toy):
    from finetune.retrain import retrain
    from knowledge import warehouse

    (line,) = retrain(toy, stages=("uplift",))
    assert line.startswith(f"{SLOT}: ") and "promoted" in line, line
    assert retrain(toy, stages=("uplift",)) == [
        "uplift: data unchanged since the last training, skipped"]
    con = warehouse.connect(toy.warehouse, read_only=False)
    con.execute("INSERT INTO imports VALUES ('toy', now(), NULL, NULL)")  # a re-import
    con.close()
    (line,) = retrain(toy, stages=("uplift",))
    assert "promoted" in line and "passed: not worse" in line, line
    assert len(registry.load(toy).slot(SLOT).history) == 2
