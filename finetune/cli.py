"""`shopmind train ...`. Each trainer lives in its own module and is
added here with one line; import torch & co. inside the command functions, not at module level."""

from __future__ import annotations

import typer

train_app = typer.Typer(help="Train the models the tools use.", no_args_is_help=True)

from finetune.behavior.train import train_behavior_command

train_app.command("behavior")(train_behavior_command)

from finetune.recommend.cli import train_recommend_command

train_app.command("recommend")(train_recommend_command)

from finetune.uplift.cli import train_uplift_command

train_app.command("uplift")(train_uplift_command)

from finetune.dialog.cli import train_dialog_command

train_app.command("dialog")(train_dialog_command)
