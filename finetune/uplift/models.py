"""Every uplift model by name, sized to the experiment, so the trainer, the bench and the tool
build them one way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from finetune.uplift.forest import UpliftForest
from finetune.uplift.learners import (
    ClassTransformation,
    ResponseModel,
    SLearner,
    TLearner,
    XLearner,
)

QUICK_ROUNDS = 60  # boosting rounds for `--quick` (default 200)
QUICK_TREES = 30  # forest trees for `--quick` (default 100)


@dataclass
class Ensemble:
    """The mean uplift of an S-learner and our uplift forest: a boosted model of the outcome
    and trees split on the effect itself have different errors, which averaging reduces."""

    leaf: int = 100
    quick: bool = False
    seed: int = 0
    name: str = "ensemble"

    def fit(self, X, arm, y, propensity):
        self.members = [build("s_learner", self.leaf, self.quick, self.seed),
                        build("uplift_forest", self.leaf, self.quick, self.seed)]
        for member in self.members:
            member.fit(X, arm, y, propensity)
        return self

    def predict(self, X):
        return np.mean([m.predict(X) for m in self.members], axis=0)


MODELS: dict[str, Callable] = {
    "s_learner": SLearner,
    "t_learner": TLearner,
    "x_learner": XLearner,
    "class_transformation": ClassTransformation,
    "uplift_forest": UpliftForest,
    "ensemble": Ensemble,
    "response_model": ResponseModel,  # a baseline: ranks by P(y), not by effect
}


def leaf_size(n_train: int) -> int:
    """Leaves need enough users to estimate an effect, but a small shop must still split:
    about 2% of the training set, at least 10 and at most 100 users."""
    return max(10, min(100, n_train // 50))


def build(name: str, leaf: int = 100, quick: bool = False, seed: int = 0):
    """A model by name with ``leaf`` users per leaf at least; ``quick`` = fewer rounds/trees."""
    if name not in MODELS:
        raise ValueError(f"unknown uplift model {name!r}; choose one of: {', '.join(MODELS)}")
    if name == "uplift_forest":
        return UpliftForest(min_samples_leaf=leaf, seed=seed,
                            **({"n_trees": QUICK_TREES} if quick else {}))
    if name == "ensemble":
        return Ensemble(leaf=leaf, quick=quick, seed=seed)
    params = {"min_child_samples": leaf, **({"n_estimators": QUICK_ROUNDS} if quick else {})}
    return MODELS[name](params=params, seed=seed)
