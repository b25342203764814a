"""The shop's own experiments: assignments (user, arm, assigned at, channel) and outcomes
(converted, revenue, visited) become a ``campaigns`` row and its ``campaign_assignments``, the
shape ``shopmind train uplift`` and ``suggest_intervention`` read (like Hillstrom's).

Covariates are pre-treatment features: the covariate columns the mapping names, plus the
user's order history before the assignment (orders, spend, days since the last order), when
the assignment has a time. Nothing observed after assignment enters them.
"""

from __future__ import annotations

import duckdb

from knowledge.importers.base import DataFileError
from knowledge.importers.shop_merge import has
from knowledge.importers.shop_tables import CHANNELS
from knowledge.importers.upsert import Counts, upsert

CONTROL_NAMES = ("control", "holdout", "none", "no_treatment", "no_email", "no_coupon", "no_ad")
HISTORY = """json_object('orders_before', count(o.order_id),
    'spend_before', coalesce(round(sum(o.total), 2), 0),
    'days_since_last_order', coalesce(date_diff('day', max(o.ordered_at), a.assigned_at), -1))"""


def _campaign_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(campaign_id, name, channel, arms csv, started_at, randomized, window, description) per
    campaign of the assignments, filled from a campaigns file where there is one."""
    campaigns = ("SELECT * FROM stage_campaigns" if has(con, "stage_campaigns") else
                 "SELECT NULL::VARCHAR AS campaign_id, NULL AS name, NULL AS channel, "
                 "NULL AS arms, NULL::TIMESTAMP AS started_at, NULL::TIMESTAMP AS ended_at, "
                 "NULL::BOOLEAN AS randomized, NULL::BIGINT AS outcome_window_days, "
                 "NULL AS description WHERE FALSE")
    return con.execute(f"""
        WITH a AS (SELECT campaign_id, list(DISTINCT arm ORDER BY arm) AS arms,
                          mode(channel) AS channel, min(assigned_at) AS started
                   FROM stage_assignments GROUP BY 1),
             c AS ({campaigns})
        SELECT a.campaign_id, coalesce(c.name, a.campaign_id), coalesce(c.channel, a.channel),
               c.arms, a.arms, coalesce(c.started_at, a.started), c.ended_at,
               coalesce(c.randomized, TRUE), c.outcome_window_days, c.description
        FROM a LEFT JOIN c USING (campaign_id) ORDER BY 1""").fetchall()


def _arms(file: str, campaign_id: str, declared: str | None, seen: list[str]) -> list[str]:
    """The arms, control first: as the campaigns file lists them, else the one arm named like
    a control (control, holdout, none, no_email, ...) followed by the others."""
    if declared:
        arms = [a.strip() for a in declared.split(",") if a.strip()]
        unknown = sorted(set(seen) - set(arms))
        if unknown:
            raise DataFileError(file, f"campaign {campaign_id}: assignments use arm(s) "
                                      f"{', '.join(unknown)} that the campaigns file does not "
                                      f"list ({declared})")
        return arms
    controls = [a for a in seen if a.lower().replace("-", "_").replace(" ", "_") in CONTROL_NAMES]
    if len(controls) != 1:
        raise DataFileError(file, f"campaign {campaign_id}: cannot tell the control arm among "
                                  f"{', '.join(seen)}; list the arms, control first, in a "
                                  "campaigns file (column arms)")
    return controls + [a for a in seen if a != controls[0]]


def _channel(file: str, campaign_id: str, channel: str | None, arms: list[str]) -> str:
    if channel:
        return channel
    named = [c for a in arms for c in CHANNELS if c in a.lower().replace("-", "_").split("_")]
    if not named:
        raise DataFileError(file, f"campaign {campaign_id} has no channel; give one (email, "
                                  "coupon or ad) in a campaigns file or as "
                                  "tables.assignments.defaults.channel")
    return named[0]


def merge_experiments(con: duckdb.DuckDBPyConnection, covariates: list[str],
                      file: str) -> dict[str, Counts]:
    """campaigns and campaign_assignments from the staged assignments (and outcomes)."""
    rows = []
    for cid, name, channel, declared, seen, started, ended, randomized, window, text in \
            _campaign_rows(con):
        arms = _arms(file, cid, declared, list(seen))
        rows.append([cid, name, _channel(file, cid, channel, arms), started, ended, randomized,
                     arms, window, text])
    con.execute("CREATE OR REPLACE TEMP TABLE _campaigns (campaign_id VARCHAR, name VARCHAR, "
                "channel VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP, randomized BOOLEAN, "
                "arms VARCHAR[], outcome_window_days BIGINT, description VARCHAR)")
    con.executemany("INSERT INTO _campaigns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    out = {"campaigns": upsert(
        con, "campaigns", "SELECT campaign_id, name, channel, started_at, ended_at, randomized, "
        "to_json(arms) AS arms, outcome_window_days, description FROM _campaigns",
        ["campaign_id"], ["name", "channel", "started_at", "ended_at", "randomized", "arms",
                          "outcome_window_days", "description"])}
    outcomes = ("LEFT JOIN stage_outcomes u USING (campaign_id, customer_id)"
                if has(con, "stage_outcomes") else
                "LEFT JOIN (SELECT NULL AS campaign_id, NULL AS customer_id, NULL::BOOLEAN AS "
                "converted, NULL::DOUBLE AS revenue, NULL::BOOLEAN AS visited) u "
                "USING (campaign_id, customer_id)")
    given = ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}', coalesce(try_cast(a.\"_cov_{c}\" AS "
                      f"DOUBLE)::JSON, to_json(a.\"_cov_{c}\"))" for c in covariates)
    own = f"json_object({given})" if covariates else "'{}'::JSON"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _assigned AS
        SELECT a._line, a.campaign_id, a.customer_id AS user_id, a.arm, a.assigned_at,
               a.arm <> c.arms[1] AS treated,
               coalesce(u.visited, a.visited) AS visit,
               coalesce(u.converted, a.converted) AS conversion,
               coalesce(u.revenue, a.revenue) AS spend, {own} AS _own
        FROM stage_assignments a JOIN _campaigns c USING (campaign_id) {outcomes}""")
    no_outcome = con.execute("SELECT _line FROM _assigned WHERE conversion IS NULL").fetchall()
    if no_outcome:
        con.executemany("INSERT INTO _import_rejects VALUES (?, ?, 'assignments', 'converted', "
                        "'no outcome: converted is empty and no outcomes row', NULL)",
                        [[file, line] for (line,) in no_outcome])
    history = f"""(SELECT {HISTORY} FROM orders o WHERE o.user_id = a.user_id
                    AND o.status <> 'cancelled' AND o.ordered_at < a.assigned_at)"""
    covs = (f"CASE WHEN a.assigned_at IS NULL THEN a._own "
            f"ELSE json_merge_patch(a._own, {history}) END")
    out["campaign_assignments"] = upsert(
        con, "campaign_assignments", f"""SELECT campaign_id, user_id, arm, treated, visit,
            conversion, spend, {covs} AS covariates FROM _assigned a WHERE conversion IS NOT NULL""",
        ["campaign_id", "user_id"], ["arm", "treated", "visit", "conversion", "spend",
                                     "covariates"])
    out["campaign_assignments"].rejected = len(no_outcome)
    empty = con.execute("SELECT count(*) FROM _assigned WHERE assigned_at IS NULL AND "
                        "_own = '{}'::JSON").fetchone()[0]
    con.execute("DROP TABLE _assigned; DROP TABLE _campaigns")
    if empty:
        raise DataFileError(file, f"{empty:,} assignment(s) have neither an assigned_at time nor "
                                  "covariate columns, so an uplift model has no pre-treatment "
                                  "features; map assigned_at or list tables.assignments.covariates")
    return out
