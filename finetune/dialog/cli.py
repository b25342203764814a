"""`shopmind train dialog` and `shopmind eval toolcalls` (heavy imports inside)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def train_dialog_command(
    ctx: typer.Context,
    preset: str | None = typer.Option(
        None, help="full (408 steps) or quick (160 steps), both full fine-tuning; budgets are "
        "steps, so a slow CPU gets the same model, later (default: setting dialog_preset)."),
    out: Path | None = typer.Option(None, help="Artifact folder (default artifacts/dialog/PRESET)."),
    steps: int | None = typer.Option(None, help="Override the preset's number of steps."),
    minutes: float | None = typer.Option(None, help="Opt-in time box in minutes: stop (and anneal the LR) by then."),
    lr: float | None = typer.Option(None, help="Override the preset's learning rate."),
    base: Path | None = typer.Option(
        None, help="Start from this HF folder (another checkpoint, or a previous artifact) "
        "instead of the converted SmolLM2 base."),
    threads: int | None = typer.Option(
        None, help="torch CPU threads; 1 is much faster when other jobs share the cores."),
    dev_file: Path | None = typer.Option(
        None, help="Also write the held-out dev JSONL here (default: beside the artifact)."),
) -> None:
    """Fine-tune the dialog model to call shopmind's tools (resumes an interrupted run)."""
    from finetune.dialog.train import PRESETS, train_dialog, write_dev_file

    settings = ctx.obj
    preset = preset or settings.dialog_preset
    if preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    import torch

    if threads:
        torch.set_num_threads(threads)
    out = out or settings.artifacts_dir / "dialog" / preset
    meta = train_dialog(settings, preset, out, base=base, steps=steps, minutes=minutes, lr=lr)
    dev = write_dev_file(settings, dev_file or out.parent / "dev.jsonl")
    typer.echo(json.dumps(meta, indent=2))
    typer.echo(f"artifact: {out}\ndev split: {dev}")


def eval_toolcalls_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Evaluation JSONL (format in DESIGN.md)."),
    model: str | None = typer.Option(None, help="Model folder (default: setting dialog_model)."),
    url: str | None = typer.Option(None, help="Evaluate an OpenAI-compatible endpoint instead."),
    out: Path | None = typer.Option(None, help="Write the JSON report here."),
    constrained: bool = typer.Option(False, help="Grammar-constrained tool calls (local model)."),
    precision: str = typer.Option("fp32", help="Local model weights: fp32, bf16 or int8."),
    limit: int | None = typer.Option(None, help="Only the first N cases."),
    max_tokens: int = typer.Option(160, help="Longest reply generated per case."),
    threads: int | None = typer.Option(None, help="torch CPU threads for a local model."),
) -> None:
    """Score tool calls: overall, per-tool, irrelevance, argument accuracy, JSON validity."""
    from finetune.dialog.base import dialog_model_path
    from finetune.dialog.evaluate import EvalFileError, evaluate_file, make_client

    settings = ctx.obj
    try:
        client = make_client(model or str(dialog_model_path(settings)), url, constrained, threads,
                             precision)
        report = evaluate_file(file, client, limit=limit, max_tokens=max_tokens)
    except EvalFileError as err:
        raise typer.BadParameter(str(err)) from err
    text = json.dumps(report.summary(), indent=2)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.model_dump(), indent=2))
    typer.echo(text)
