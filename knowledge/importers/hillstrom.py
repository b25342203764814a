"""Hillstrom MineThatData e-mail test (2008): one randomised campaign with three arms.

Each of the 64,000 rows is a customer (``h00001``... in file order) randomly sent a men's
e-mail, a women's e-mail or nothing; outcomes (visit, conversion, spend) were tracked for two
weeks. The pre-treatment columns go into ``campaign_assignments.covariates`` as the source
gives them, so uplift models can use them.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from knowledge.importers.base import ImportReport, numbers, one_of, read_csv, replace_table
from knowledge.settings import Settings

FILE = "hillstrom.csv.gz"
CAMPAIGN_ID = "hillstrom_2008"
ARMS = {"No E-Mail": "no_email", "Mens E-Mail": "mens_email", "Womens E-Mail": "womens_email"}
CONTROL = "no_email"
COVARIATES = ["recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie",
              "channel"]
OUTCOMES = ["visit", "conversion", "spend"]


def run(con: duckdb.DuckDBPyConnection, source_dir: Path, settings: Settings) -> ImportReport:
    path = Path(source_dir) / FILE
    text = ["history_segment", "zip_code", "channel", "segment"]
    raw = read_csv(path, [*COVARIATES, "segment", *OUTCOMES], dtype=dict.fromkeys(text, str),
                   keep_default_na=False, na_values=[""])
    ints = {c: numbers(path, raw, c, integer=True) for c in ["recency", "mens", "womens", "newbie"]}
    covariates = pd.DataFrame({
        **{c: raw[c] for c in COVARIATES}, **ints, "history": numbers(path, raw, "history")})
    users = pd.DataFrame({"user_id": [f"h{i:05d}" for i in range(1, len(raw) + 1)]})
    arm = one_of(path, raw, "segment", list(ARMS)).map(ARMS)
    assignments = pd.DataFrame({
        "campaign_id": CAMPAIGN_ID,
        "user_id": users["user_id"],
        "arm": arm,
        "treated": arm != CONTROL,
        "visit": numbers(path, raw, "visit", integer=True).astype(bool),
        "conversion": numbers(path, raw, "conversion", integer=True).astype(bool),
        "spend": numbers(path, raw, "spend"),
        "covariates": covariates[COVARIATES].to_json(
            orient="records", lines=True, double_precision=15).splitlines(),
    })
    campaign = pd.DataFrame([{
        "campaign_id": CAMPAIGN_ID,
        "name": "Hillstrom MineThatData e-mail test",
        "channel": "email",
        "randomized": True,
        "arms": json.dumps([CONTROL, "mens_email", "womens_email"]),
        "outcome_window_days": 14,
        "description": "Customers who bought in the last 12 months, randomised in thirds to a "
                       "men's merchandise e-mail, a women's merchandise e-mail or no e-mail; "
                       "visits, conversions and spend tracked for two weeks (March 2008).",
    }])
    report = ImportReport(source="hillstrom", raw={"customers": len(raw)})
    report.raw.update({f"arm_{a}": int((arm == a).sum()) for a in ARMS.values()})
    for table, frame in [("users", users), ("campaigns", campaign),
                         ("campaign_assignments", assignments)]:
        report.rows[table] = replace_table(con, table, frame)
    report.notes.append("no calendar dates in the source: campaign started_at/ended_at are NULL")
    return report
