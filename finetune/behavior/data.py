"""Temporal splits for a behaviour task: features, history texts and labels at several cutoffs.

Cutoffs step back from the test cutoff T: validation at V = T - H (its labels end at T), training
at V - H - k * step for k = 0..n-1, so the last training labels end at V. Every row is (user,
cutoff); features and texts use only events before its cutoff, labels only the H days after it,
so no split sees a later split's label window. (Training at V - k * step, as before, let the
training labels of a horizon longer than the step run into the validation label window: the
same users' future purchases, which a flexible model memorised, inflating its validation AUC.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from knowledge.features import build_features, data_cutoff, population, top_categories
from knowledge.labels import EventKind, labels_after, labels_complete
from knowledge.sequences import history_texts


class TaskSpec(BaseModel):
    """What to predict and on which cutoffs."""

    event: EventKind = "purchase"
    horizon_days: int = Field(30, ge=1, le=365)
    test_cutoff: datetime | None = Field(
        None, description="Default: the latest cutoff whose label window the data covers.")
    train_cutoffs: int = Field(3, ge=1, le=12)
    step_days: int | None = Field(None, ge=1, description="Default: min(horizon, 30) days.")

    @property
    def name(self) -> str:
        return f"{self.event}_{self.horizon_days}d"


@dataclass
class Split:
    """Rows are (user, cutoff). `text` is filled only when an encoder needs it."""

    features: pd.DataFrame
    labels: np.ndarray
    cutoffs: np.ndarray
    text: pd.Series | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def sample(self, limit: int | None, seed: int = 0) -> Split:
        """A random subset of at most `limit` rows (all rows when limit is None)."""
        if limit is None or len(self) <= limit:
            return self
        rows = np.sort(np.random.default_rng(seed).choice(len(self), limit, replace=False))
        return Split(self.features.iloc[rows], self.labels[rows], self.cutoffs[rows],
                     None if self.text is None else self.text.iloc[rows])


@dataclass
class TaskData:
    spec: TaskSpec
    train: Split
    val: Split
    test: Split
    categories: list[str]
    cutoffs: dict[str, list[str]]


class TaskDataError(ValueError):
    """The warehouse cannot support the requested task (too short, no events, ...)."""


def plan_cutoffs(con: duckdb.DuckDBPyConnection, spec: TaskSpec) -> tuple[datetime, datetime,
                                                                         list[datetime]]:
    """(test, validation, [train...]) cutoffs; training ones before the first event are dropped."""
    horizon = timedelta(days=spec.horizon_days)
    test = spec.test_cutoff or data_cutoff(con) - horizon
    if not labels_complete(con, test, spec.horizon_days):
        raise TaskDataError(
            f"the data ends before {test:%Y-%m-%d} + {spec.horizon_days} days; choose an earlier "
            f"--test-cutoff or a shorter --horizon")
    step = timedelta(days=spec.step_days or min(spec.horizon_days, 30))
    val = test - horizon
    first = con.execute("SELECT min(ts) FROM events").fetchone()[0]
    train = [c for c in (val - horizon - step * k for k in range(spec.train_cutoffs)) if c > first]
    if not train:
        raise TaskDataError(
            f"no training cutoff left: the history starts {first:%Y-%m-%d}, the validation cutoff "
            f"is {val:%Y-%m-%d}; use a shorter --horizon or --step-days")
    return test, val, train


def build_split(con: duckdb.DuckDBPyConnection, cutoffs: list[datetime], spec: TaskSpec,
                categories: list[str], with_text: bool) -> Split:
    parts, labels, stamps, texts = [], [], [], []
    for cutoff in cutoffs:
        features = build_features(con, cutoff, categories=categories)
        users = list(features.index)
        parts.append(features)
        labels.append(labels_after(con, cutoff, spec.horizon_days, users, spec.event).to_numpy())
        stamps.append(np.full(len(users), np.datetime64(cutoff)))
        if with_text:
            texts.append(history_texts(con, cutoff, features=features).reindex(users))
    return Split(pd.concat(parts), np.concatenate(labels), np.concatenate(stamps),
                 pd.concat(texts) if with_text else None)


def load_task(con: duckdb.DuckDBPyConnection, spec: TaskSpec, with_text: bool = False,
              n_categories: int = 8) -> TaskData:
    """Build every split of a task. Category-mix columns are fixed at the first training cutoff."""
    if not population(con, data_cutoff(con)):
        raise TaskDataError("the warehouse has no events to learn from")
    test, val, train = plan_cutoffs(con, spec)
    categories = top_categories(con, min(train), n_categories)
    data = TaskData(
        spec=spec,
        train=build_split(con, sorted(train), spec, categories, with_text),
        val=build_split(con, [val], spec, categories, with_text),
        test=build_split(con, [test], spec, categories, with_text),
        categories=categories,
        cutoffs={"train": [f"{c:%Y-%m-%d}" for c in sorted(train)], "val": [f"{val:%Y-%m-%d}"],
                 "test": [f"{test:%Y-%m-%d}"]},
    )
    for name in ("train", "val"):
        split = getattr(data, name)
        if len(np.unique(split.labels)) < 2:
            raise TaskDataError(f"the {name} split has only one class ({len(split)} rows); the "
                                f"task cannot be learned from this warehouse")
    return data
