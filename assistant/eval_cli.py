"""`shopmind eval toolcalls`: score a served dialog model on an evaluation file (the scoring is in
``toolcall_eval.py``; heavy imports inside)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

eval_app = typer.Typer(help="Evaluate trained models.", no_args_is_help=True)


@eval_app.command("toolcalls")
def eval_toolcalls_command(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Evaluation JSONL (format in DESIGN.md)."),
    model: str | None = typer.Option(None, help="Model folder (default: setting dialog_model)."),
    url: str | None = typer.Option(None, help="Evaluate an OpenAI-compatible endpoint instead."),
    out: Path | None = typer.Option(None, help="Write the JSON report here."),
    constrained: bool = typer.Option(False, help="Grammar-constrained tool calls (local model)."),
    precision: str = typer.Option("auto", help="Local model weights: auto, fp32, bf16 or int8."),
    limit: int | None = typer.Option(None, help="Only the first N cases."),
    max_tokens: int = typer.Option(160, help="Longest reply generated per case."),
    threads: int | None = typer.Option(None, help="torch CPU threads for a local model."),
) -> None:
    """Score tool calls: overall, per-tool, irrelevance, argument accuracy, JSON validity."""
    from assistant.toolcall_eval import EvalFileError, evaluate_file, make_client
    from finetune.dialog.base import dialog_model_path

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
