"""`shopmind train uplift`: the command; the work is in finetune.uplift.train (imported lazily
so that `shopmind --help` does not load LightGBM).

    shopmind train uplift --data hillstrom            # Hillstrom e-mail test, 3 arms
    shopmind train uplift --data synthetic --quick    # the synthetic shop's campaign
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from knowledge.settings import Settings

MODEL_HELP = ("s_learner, t_learner, x_learner, class_transformation, uplift_forest, ensemble "
              "(S-learner + uplift forest), or the "
              "response_model baseline")


def train_uplift_command(
    ctx: typer.Context,
    data: str = typer.Option("synthetic", help="Shop whose randomised campaigns to learn from: "
                             "hillstrom or synthetic (any warehouse with a randomised campaign)."),
    model: str = typer.Option("s_learner", help=MODEL_HELP),
    outcome: str = typer.Option("conversion", help="conversion or visit"),
    quick: bool = typer.Option(False, help="Fewer boosting rounds (for `shopmind up`)."),
    margin_rate: float = typer.Option(0.3, help="Profit share of a conversion's revenue."),
    contact_cost: float | None = typer.Option(
        None, help="Cost of one contact, every arm (default by channel: email 0.05, coupon 2, ad 0.5)."),
) -> None:
    """Train uplift models (one per randomised campaign), save each as a new version with its
    held-out metrics, gate it against the serving version (Qini) and promote it if it passes."""
    from finetune import registry
    from finetune.uplift.data import OUTCOMES, ExperimentError
    from finetune.uplift.models import MODELS
    from finetune.uplift.train import train_shop

    settings: Settings = ctx.obj
    if model not in MODELS:
        raise typer.BadParameter(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}")
    if outcome not in OUTCOMES:
        raise typer.BadParameter(f"unknown outcome {outcome!r}; choose one of: {', '.join(OUTCOMES)}")
    console = Console()
    try:
        with console.status(f"training {model} on {data} ..."):
            metas = train_shop(settings, data, model_name=model, outcome=outcome, quick=quick,
                               margin_rate=margin_rate, contact_cost=contact_cost)
    except ExperimentError as err:
        raise typer.BadParameter(str(err)) from err
    for meta in metas:
        console.print(_metrics_table(meta))
        slot = registry.uplift_slot(meta.shop, meta.campaign.campaign_id)
        entry = registry.load(settings).slot(slot).get(meta.version)
        console.print(f"  saved to {settings.artifacts_dir / entry.path}: {entry.status}; "
                      f"{entry.note}")


def _metrics_table(meta) -> Table:
    """Held-out metrics per arm; with the true effects' correlation and PEHE where known."""
    keys = ["qini_auc", "auuc", "ate", "uplift_at_10", "uplift_at_30"]
    truth = meta.true_effect or {}
    table = Table("arm", *keys, *(["corr_true", "pehe_true"] if truth else []),
                  title=f"{meta.campaign.campaign_id} ({meta.campaign.channel}), {meta.model}, "
                        f"outcome {meta.outcome}, held-out {meta.rows['test']:,} users")
    for arm, m in meta.metrics.items():
        values = [m[k] for k in keys]
        if truth:
            values += [truth.get(arm, {}).get("corr"), truth.get(arm, {}).get("pehe")]
        table.add_row(arm, *("-" if v is None else f"{v:.4f}" for v in values))
    return table
