"""Every uplift model by name, so the trainer, the bench and the tool build them one way."""

from __future__ import annotations

from collections.abc import Callable

from finetune.uplift.forest import UpliftForest
from finetune.uplift.learners import (
    ClassTransformation,
    ResponseModel,
    SLearner,
    TLearner,
    XLearner,
)

MODELS: dict[str, Callable] = {
    "s_learner": SLearner,
    "t_learner": TLearner,
    "x_learner": XLearner,
    "class_transformation": ClassTransformation,
    "uplift_forest": UpliftForest,
    "response_model": ResponseModel,  # a baseline: ranks by P(y), not by effect
}


def make_model(name: str, seed: int = 0, **params):
    if name not in MODELS:
        raise ValueError(f"unknown uplift model {name!r}; choose one of: {', '.join(MODELS)}")
    if name == "uplift_forest":
        return UpliftForest(seed=seed, **params)
    return MODELS[name](params=params, seed=seed)
