"""A warehouse holding only the toy randomised campaign of `conftest.uplift_experiment`."""

from __future__ import annotations

import json

import pandas as pd

from knowledge import warehouse
from knowledge.importers.base import replace_table
from knowledge.settings import Settings


def write_toy_campaign(settings: Settings, experiment: pd.DataFrame) -> None:
    """Campaign 'toy' (control, email, coupon) and its assignments into settings.warehouse."""
    rows = experiment.assign(covariates=experiment["covariates"].map(json.dumps))
    with warehouse.atomic_update(settings.warehouse) as con:
        replace_table(con, "campaigns", pd.DataFrame([{
            "campaign_id": "toy", "name": "toy test", "channel": "email", "randomized": True,
            "arms": json.dumps(["control", "email", "coupon"])}]))
        replace_table(con, "campaign_assignments", rows)
