"""`shopmind train dialog` (heavy imports inside)."""

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
    from finetune.dialog.train import PRESETS, record_build, train_dialog, write_dev_file

    settings = ctx.obj
    preset = preset or settings.dialog_preset
    if preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    import torch

    if threads:
        torch.set_num_threads(threads)
    out = out or settings.artifacts_dir / "dialog" / preset
    meta = train_dialog(settings, preset, out, base=base, steps=steps, minutes=minutes, lr=lr)
    version = record_build(settings, out, meta)
    dev = write_dev_file(settings, dev_file or out.parent / "dev.jsonl")
    typer.echo(json.dumps(meta, indent=2))
    typer.echo(f"artifact: {out} (registered as {version}, serving)\ndev split: {dev}")
