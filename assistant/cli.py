"""The `shopmind` command. Each package owns its sub-commands; this file only wires them.

Global options (before the sub-command): ``--config FILE`` and ``--set KEY=VALUE`` (repeatable)
override settings; ``shopmind config`` prints every key with its meaning and current value.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from assistant.eval_cli import eval_app
from assistant.model_server.cli import serve_model_command
from assistant.serve import serve_command
from assistant.stages import up_command
from finetune.behavior.drift_cli import drift_command
from finetune.cli import train_app
from finetune.registry_cli import app as models_app
from finetune.retrain import retrain_command
from knowledge.cli import app as data_app
from knowledge.cli import index_app
from knowledge.settings import Settings, SettingsError, load_settings, parse_overrides
from tools.knowledge_search import search_knowledge_command
from tools.segment_cli import segment_app

app = typer.Typer(
    help="shopmind: an open assistant for online shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Each package owns its sub-commands (and imports heavy libraries inside them, so that
# `shopmind --help` stays fast).
app.add_typer(data_app, name="data")
app.add_typer(index_app, name="index")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.command("up")(up_command)
app.command("serve")(serve_command)
app.command("serve-model")(serve_model_command)
app.add_typer(segment_app, name="segment")
app.command("search-knowledge")(search_knowledge_command)
app.add_typer(models_app, name="models")
app.command("drift")(drift_command)
app.command("retrain")(retrain_command)


@app.callback()
def main(
    ctx: typer.Context,
    config: Path | None = typer.Option(None, "--config", help="YAML settings file."),
    overrides: list[str] = typer.Option([], "--set", help="Override a setting: KEY=VALUE."),
) -> None:
    ctx.obj = load_settings(config, parse_overrides(overrides))


@app.command("config")
def config_command(ctx: typer.Context) -> None:
    """Print every setting: key, current value, meaning."""
    settings: Settings = ctx.obj
    table = Table("key", "value", "meaning")
    for key, field in Settings.model_fields.items():
        table.add_row(key, str(getattr(settings, key)), field.description or "")
    Console().print(table)


def run() -> None:
    """Entry point with one-line errors for the mistakes a user can make."""
    from knowledge.importers import DataFileError, UnknownSourceError
    from knowledge.warehouse import WarehouseMissingError

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        app()
    except (SettingsError, DataFileError, UnknownSourceError, WarehouseMissingError) as err:
        Console(stderr=True).print(f"[red]error:[/] {err}")
        sys.exit(2)


if __name__ == "__main__":
    run()
