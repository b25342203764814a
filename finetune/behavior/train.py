"""`shopmind train behavior`: train behaviour models on a temporal split and save each as a
versioned artifact with its validation and test metrics and its predictions."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # the promotion module loads scipy: keep `shopmind --help` fast
    from finetune.behavior.promotion import PromotionResult

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


def _predictions(data: TaskData, preds: dict[str, np.ndarray],
                 calibrated: dict[str, np.ndarray]) -> pd.DataFrame:
    """Raw (`probability`) and calibrated scores per split; validation's calibrated scores are
    in-sample (the calibrator was fitted on them)."""
    frames = []
    for name, p in preds.items():
        split: Split = getattr(data, name)
        frames.append(pd.DataFrame({"split": name, "user_id": split.features.index,
                                    "cutoff": split.cutoffs, "label": split.labels,
                                    "probability": p, "calibrated": calibrated[name]}))
    return pd.concat(frames, ignore_index=True)


def train_one(settings: Settings, shop: str, data: TaskData, name: str, data_end: datetime,
              encoder_options: dict | None = None) -> tuple[ModelMeta, Path]:
    """Fit one model on data.train (early stopping on data.val), calibrate it on data.val,
    score val (raw) and test (served: calibrated; and raw), save."""
    from finetune.behavior.calibration import choose_calibrator
    from finetune.behavior.metrics import scores  # sklearn: keep `shopmind --help` fast

    model = make_model(name, encoder_options)
    started = time.perf_counter()
    info = model.fit(data.train, data.val) or {}
    seconds = time.perf_counter() - started
    preds = {split: predict_split(model, getattr(data, split)) for split in ("val", "test")}
    calibrator, calibration = choose_calibrator(preds["val"], data.val.labels, seed=0)
    calibrated = {split: calibrator(p) for split, p in preds.items()}
    version, folder = new_version_dir(settings, shop, data.spec.name, name)
    model.save(folder)
    calibrator.save(folder)
    _predictions(data, preds, calibrated).to_parquet(folder / "predictions.parquet")
    meta = ModelMeta(
        model=name, version=version, shop=shop, task=data.spec.name, event=data.spec.event,
        horizon_days=data.spec.horizon_days, cutoffs=data.cutoffs,
        data_end=f"{data_end:%Y-%m-%d %H:%M:%S}", categories=data.categories,
        metrics={"val": scores(data.val.labels, preds["val"]),
                 "test": scores(data.test.labels, calibrated["test"]),
                 "test_uncalibrated": scores(data.test.labels, preds["test"])},
        calibration=calibration.model_dump(),
        train_seconds=round(seconds, 3),
        rows={s: len(getattr(data, s)) for s in ("train", "val", "test")},
        params={**(encoder_options or {}), **info} if name.startswith("encoder") else info,
    )
    write_meta(folder, meta)
    return meta, folder


def train_behavior(settings: Settings, spec: TaskSpec, models: list[str], shop: str | None = None,
                   encoder_options: dict | None = None,
                   encoder_rows: dict[str, int | None] | None = None,
                   promote: bool = True) -> list[ModelMeta]:
    """`train_and_gate` without the promotion result (see there)."""
    return train_and_gate(settings, spec, models, shop, encoder_options, encoder_rows,
                          promote)[0]


def _test_features(settings: Settings, shop: str, data: TaskData):
    """A function: categories -> the test window's features with those category columns (for
    a serving model whose category columns differ from the candidates')."""
    from knowledge.features import build_features

    def features_for(categories: list[str]) -> pd.DataFrame:
        con = warehouse.connect(settings.warehouse_for(shop) if shop != settings.shop
                                else settings.warehouse)
        try:
            cutoff = datetime.strptime(data.cutoffs["test"][0], "%Y-%m-%d")
            return build_features(con, cutoff, users=list(data.test.features.index),
                                  categories=categories)
        finally:
            con.close()

    return features_for


def train_and_gate(settings: Settings, spec: TaskSpec, models: list[str], shop: str | None = None,
                   encoder_options: dict | None = None,
                   encoder_rows: dict[str, int | None] | None = None,
                   promote: bool = True) -> tuple[list[ModelMeta], PromotionResult | None]:
    """Build the task's splits once and train each model on them; then (``promote``) register
    the servable ones as candidates, gate the validation winner against the serving version and
    promote it if it passes. `encoder_rows` ({"val": n, "test": m}) lets encoders validate and
    test on random row samples: their forward passes are what a CPU budget cannot afford in
    full (the benchmark compares on the same rows)."""
    from finetune.behavior.promotion import gate_and_promote

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
    trained = []
    for name in models:
        task = data
        if name.startswith("encoder") and encoder_rows:
            task = dataclasses.replace(data, **{split: getattr(data, split).sample(n)
                                                for split, n in encoder_rows.items()})
        trained.append(train_one(settings, shop, task, name, data_end, encoder_options))
    result = (gate_and_promote(settings, shop, data, trained, _test_features(settings, shop, data))
              if promote else None)
    return [meta for meta, _ in trained], result


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
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Register the servable "
                                 "versions, gate the validation winner and promote it if it "
                                 "passes (--no-promote: only save the artifacts)."),
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
        metas, result = train_and_gate(settings, spec, model, shop, encoder_options,
                                       {"val": val_rows, "test": test_rows}, promote)
    except TaskDataError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from err
    print_metrics(metas)
    if result is not None:
        console.print(f"{result.slot}: {result.winner} "
                      f"{'promoted' if result.promoted else 'stays a candidate'}: "
                      f"{result.verdict.reason}")
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


DEFAULT_MODELS = ["logreg", "logreg-all", "lightgbm"]  # seconds each; validation picks one


def train_default(settings: Settings, specs: list[TaskSpec] | None = None) -> list[str]:
    """The servable models for each default task the shop's data supports, the validation
    winner gated and promoted (the `shopmind up` stage and `shopmind retrain`)."""
    done = []
    for spec in specs or DEFAULT_TASKS:
        try:
            metas, result = train_and_gate(settings, spec, DEFAULT_MODELS)
        except TaskDataError as err:
            done.append(f"{spec.name} skipped: {err}")
            continue
        meta = next(m for m in metas if m.version == result.winner)
        done.append(f"{meta.task} (test AUC {meta.metrics['test']['roc_auc']:.3f}, ECE "
                    f"{meta.metrics['test']['ece']:.3f}, {meta.model} "
                    f"{'promoted' if result.promoted else 'refused by the gate'})")
    return done
