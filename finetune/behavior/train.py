"""`shopmind train behavior`: train behaviour models on a temporal split and save each as a
versioned artifact with its validation and test metrics and its predictions."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from finetune.behavior.artifacts import ModelMeta, new_version_dir
from finetune.behavior.data import Split, TaskData, TaskDataError, TaskSpec, load_task
from knowledge import warehouse
from knowledge.artifacts import write_meta
from knowledge.settings import Settings

MODELS = ["rfm", "logreg", "logreg-all", "lightgbm", "encoder-head", "encoder-full"]
console = Console()


def make_model(name: str, encoder_options: dict | None = None):
    if name.startswith("encoder-"):
        from finetune.behavior.encoder import EncoderConfig, EncoderModel

        return EncoderModel(EncoderConfig(mode=name.removeprefix("encoder-"),
                                          **(encoder_options or {})))
    from finetune.behavior.tabular import TABULAR_MODELS

    return TABULAR_MODELS[name]()


def predict_split(model, split: Split) -> np.ndarray:
    if hasattr(model, "predict_split"):
        return model.predict_split(split)
    return model.predict(split.features)


def _predictions(data: TaskData, preds: dict[str, np.ndarray]) -> pd.DataFrame:
    frames = []
    for name, p in preds.items():
        split: Split = getattr(data, name)
        frames.append(pd.DataFrame({"split": name, "user_id": split.features.index,
                                    "cutoff": split.cutoffs, "label": split.labels,
                                    "probability": p}))
    return pd.concat(frames, ignore_index=True)


def train_one(settings: Settings, shop: str, data: TaskData, name: str, data_end: datetime,
              encoder_options: dict | None = None) -> tuple[ModelMeta, Path]:
    """Fit one model on data.train (early stopping on data.val), score val and test, save."""
    from finetune.behavior.metrics import scores  # sklearn: keep `shopmind --help` fast

    model = make_model(name, encoder_options)
    started = time.perf_counter()
    info = model.fit(data.train, data.val) or {}
    seconds = time.perf_counter() - started
    preds = {split: predict_split(model, getattr(data, split)) for split in ("val", "test")}
    version, folder = new_version_dir(settings, shop, data.spec.name, name)
    model.save(folder)
    _predictions(data, preds).to_parquet(folder / "predictions.parquet")
    meta = ModelMeta(
        model=name, version=version, shop=shop, task=data.spec.name, event=data.spec.event,
        horizon_days=data.spec.horizon_days, cutoffs=data.cutoffs,
        data_end=f"{data_end:%Y-%m-%d %H:%M:%S}", categories=data.categories,
        metrics={split: scores(getattr(data, split).labels, p) for split, p in preds.items()},
        train_seconds=round(seconds, 3),
        rows={s: len(getattr(data, s)) for s in ("train", "val", "test")},
        params={**(encoder_options or {}), **info} if name.startswith("encoder") else info,
    )
    write_meta(folder, meta)
    return meta, folder


def train_behavior(settings: Settings, spec: TaskSpec, models: list[str], shop: str | None = None,
                   encoder_options: dict | None = None,
                   encoder_rows: dict[str, int | None] | None = None) -> list[ModelMeta]:
    """Build the task's splits once and train each model on them. `encoder_rows` ({"val": n,
    "test": m}) lets encoders validate and test on random row samples: their forward passes
    are what a CPU budget cannot afford in full (the benchmark compares on the same rows)."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise TaskDataError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    shop = shop or settings.shop
    con = warehouse.connect(settings.warehouse_for(shop) if shop != settings.shop
                            else settings.warehouse)
    try:
        data_end = con.execute("SELECT max(ts) FROM events").fetchone()[0]
        with console.status(f"building {spec.name} splits for {shop} ..."):
            data = load_task(con, spec, with_text=any(m.startswith("encoder") for m in models))
    finally:
        con.close()
    console.print(f"{spec.name} on {shop}: cutoffs {data.cutoffs}; rows train {len(data.train):,}"
                  f" (positive {data.train.labels.mean():.1%}), val {len(data.val):,}, "
                  f"test {len(data.test):,} (positive {data.test.labels.mean():.1%})")
    metas = []
    for name in models:
        task = data
        if name.startswith("encoder") and encoder_rows:
            task = dataclasses.replace(data, **{split: getattr(data, split).sample(n)
                                                for split, n in encoder_rows.items()})
        metas.append(train_one(settings, shop, task, name, data_end, encoder_options)[0])
    return metas


def print_metrics(metas: list[ModelMeta]) -> None:
    table = Table("model", "version", "val AUC", "test AUC", "test PR-AUC", "test log loss",
                  "test Brier", "train s")
    for m in metas:
        val, test = m.metrics["val"], m.metrics["test"]
        table.add_row(m.model, m.version, f"{val['roc_auc']:.4f}", f"{test['roc_auc']:.4f}",
                      f"{test['pr_auc']:.4f}", f"{test['log_loss']:.4f}", f"{test['brier']:.4f}",
                      f"{m.train_seconds:.1f}")
    console.print(table)


def train_behavior_command(
    ctx: typer.Context,
    event: str = typer.Option("purchase", help="purchase or click (churn = 1 - purchase)."),
    horizon: int = typer.Option(30, help="Days after the cutoff the event must happen in."),
    model: list[str] = typer.Option(["lightgbm"], help=f"Repeatable: {', '.join(MODELS)}."),
    shop: str | None = typer.Option(None, help="Warehouse to train on (default: settings.shop)."),
    test_cutoff: datetime | None = typer.Option(
        None, formats=["%Y-%m-%d"], help="Test cutoff (default: latest with complete labels)."),
    train_cutoffs: int = typer.Option(3, help="Number of training cutoffs."),
    step_days: int | None = typer.Option(None, help="Days between cutoffs (default min(H, 30))."),
    max_length: int = typer.Option(256, help="Encoder: tokens per history."),
    epochs: int = typer.Option(3, help="Encoder: fine-tuning epochs."),
    batch_size: int = typer.Option(16, help="Encoder: batch size."),
    lr: float = typer.Option(5e-5, help="Encoder: learning rate of the encoder weights."),
    eval_every: int | None = typer.Option(None, help="Encoder: steps between validations."),
    max_train_rows: int | None = typer.Option(None, help="Encoder: subsample training rows."),
    val_rows: int | None = typer.Option(
        None, help="Encoder: validate (early stopping, reported metrics) on this many sampled "
        "validation rows."),
    test_rows: int | None = typer.Option(
        None, help="Encoder: test on this many sampled test rows (CPU budget)."),
    bf16: bool | None = typer.Option(None, "--bf16/--no-bf16",
                                     help="Encoder: force bf16 autocast on/off (default: timed)."),
) -> None:
    """Train behaviour models on a temporal split; save versioned artifacts with their metrics."""
    settings: Settings = ctx.obj
    try:
        spec = TaskSpec(event=event, horizon_days=horizon, test_cutoff=test_cutoff,
                        train_cutoffs=train_cutoffs, step_days=step_days)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    encoder_options = {"max_length": max_length, "epochs": epochs, "batch_size": batch_size,
                       "lr": lr, "eval_every": eval_every, "max_train_rows": max_train_rows,
                       "bf16": bf16}
    try:
        metas = train_behavior(settings, spec, model, shop, encoder_options,
                               {"val": val_rows, "test": test_rows})
    except TaskDataError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from err
    print_metrics(metas)
    console.print(f"saved under {settings.artifacts_dir / 'behavior' / (shop or settings.shop)}")


DEFAULT_TASKS = [TaskSpec(event="purchase", horizon_days=30),
                 TaskSpec(event="purchase", horizon_days=90),  # churn = 1 - P(purchase, 90 d)
                 TaskSpec(event="click", horizon_days=30)]


def _data_end(settings: Settings) -> str | None:
    con = warehouse.connect(settings.warehouse)
    try:
        last = con.execute("SELECT max(ts) FROM events").fetchone()[0]
    finally:
        con.close()
    return None if last is None else f"{last:%Y-%m-%d %H:%M:%S}"


def is_current(settings: Settings) -> bool:
    """Whether the active shop's default purchase model exists and saw the current data."""
    from finetune.behavior.artifacts import latest_servable

    found = latest_servable(settings, settings.shop, DEFAULT_TASKS[0].name)
    return found is not None and found[1].data_end == _data_end(settings)


def train_default(settings: Settings) -> list[str]:
    """LightGBM for each default task the shop's data supports (the `shopmind up` stage)."""
    done = []
    for spec in DEFAULT_TASKS:
        try:
            (meta,) = train_behavior(settings, spec, ["lightgbm"])
            done.append(f"{meta.task} (test AUC {meta.metrics['test']['roc_auc']:.3f})")
        except TaskDataError as err:
            done.append(f"{spec.name} skipped: {err}")
    return done
