"""`shopmind serve-model`: serve the dialog model over the OpenAI chat-completions API."""

from __future__ import annotations

from pathlib import Path

import typer


def serve_model_command(
    ctx: typer.Context,
    model: Path | None = typer.Option(None, help="Model folder (default: setting dialog_model)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    constrained: bool | None = typer.Option(
        None, help="Grammar-constrain every tool call to valid JSON naming an offered tool "
        "(default: setting dialog_constrained)."),
    precision: str | None = typer.Option(
        None, help="fp32, bf16 or int8 weights (default: setting dialog_precision)."),
    threads: int | None = typer.Option(None, help="torch CPU threads (default: all cores)."),
) -> None:
    """Serve the dialog model at http://HOST:PORT/v1 (OpenAI-compatible: /v1/models,
    /v1/chat/completions with tools, tool_choice and streaming)."""
    import uvicorn

    from assistant.backends.local import LocalBackend
    from assistant.model_server.app import create_app
    from finetune.dialog.base import dialog_model_path

    settings = ctx.obj
    path = model or dialog_model_path(settings)
    backend = LocalBackend(
        path, constrained=settings.dialog_constrained if constrained is None else constrained,
        precision=precision or settings.dialog_precision, threads=threads,
        max_batch=settings.dialog_max_batch)
    typer.echo(f"serving {path} as {backend.name!r} at http://{host}:{port}/v1")
    uvicorn.run(create_app(backend), host=host, port=port, log_level="warning")
