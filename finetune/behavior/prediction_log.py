"""The served-prediction log: every probability `predict_behavior` answered, with the user, the
task, the model version and the time, so that `shopmind drift` can score the served model on
the answers it really gave once their outcome window has closed.

An append-only JSON-lines file beside the warehouse (``<warehouse_dir>/<shop>.predictions.jsonl``),
not a warehouse table: serving holds read-only connections to the warehouse (a write would
wait for them, and would change the file state that the feature caches key on), and an import
replaces the warehouse file as a whole, which would drop the log. Each record is one
``write`` of one line under an exclusive ``flock``, in append mode (``knowledge/append_only.py``),
so concurrent writers (threads or processes) never interleave; a line cut short by a crash is
ended by the next write and skipped on reading.

Outcome: the user made the event (any purchase; a view or click for click tasks) in
[ts, ts + horizon); churn answers are scored as 1 - P(purchase) against purchases. A window
is closed when the warehouse holds an event at or after its end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, computed_field

from finetune.behavior.metrics import expected_calibration_error
from finetune.gate import fast_auc
from knowledge import append_only
from knowledge.labels import EVENT_TYPES
from knowledge.settings import Settings


class ServedPrediction(BaseModel):
    user_id: str
    event: str  # purchase, churn or click, as asked
    task: str  # the model's task, e.g. purchase_90d for churn within 90 days
    horizon_days: int
    version: str
    probability: float  # as answered (churn: 1 - P(purchase))
    ts: datetime  # naive UTC, like the warehouse's timestamps


def log_path(settings: Settings) -> Path:
    return settings.warehouse.with_name(f"{settings.warehouse.stem}.predictions.jsonl")


def append(settings: Settings, prediction: ServedPrediction) -> None:
    path = log_path(settings)
    append_only.append(path, (prediction.model_dump_json() + "\n").encode())


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def read(settings: Settings) -> list[ServedPrediction]:
    path = log_path(settings)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(ServedPrediction.model_validate_json(line))
        except ValueError:  # a line cut short by a crash
            continue
    return out


class LoggedQuality(BaseModel):
    closed: int  # logged answers of this version whose outcome window has closed
    still_open: int
    auc: float | None  # None without both outcomes among the closed ones
    ece: float | None

    @computed_field
    @property
    def summary(self) -> str:
        if not self.closed:
            return f"no closed predictions yet ({self.still_open} still open)"
        auc = "n/a (one outcome only)" if self.auc is None else f"{self.auc:.3f}"
        return (f"AUC {auc}, ECE {self.ece:.3f} on {self.closed} closed predictions "
                f"({self.still_open} still open)")


_OUTCOMES_SQL = """
SELECT count(e.user_id) > 0 AS hit
FROM _served p LEFT JOIN events e
  ON e.user_id = p.user_id AND e.ts >= p.ts AND e.ts < p.window_end
 AND e.event_type IN (SELECT unnest($types))
GROUP BY p.i ORDER BY p.i
"""


def quality(con: duckdb.DuckDBPyConnection, settings: Settings, task: str, version: str,
            kind: str) -> LoggedQuality:
    """Realised AUC and ECE of `version`'s logged answers for `task` whose window closed."""
    mine = [p for p in read(settings) if p.task == task and p.version == version]
    [(last,)] = con.execute("SELECT max(ts) FROM events").fetchall()
    asked = pd.to_datetime([p.ts for p in mine])
    served = pd.DataFrame({
        "user_id": [p.user_id for p in mine], "ts": asked,
        "window_end": asked + pd.to_timedelta([p.horizon_days for p in mine], unit="D"),
        "p": [1 - p.probability if p.event == "churn" else p.probability for p in mine]})
    served = served[served["window_end"] <= pd.Timestamp(last)] if last else served.iloc[:0]
    if served.empty:
        return LoggedQuality(closed=0, still_open=len(mine), auc=None, ece=None)
    con.register("_served", served.assign(i=np.arange(len(served))))
    try:
        y = con.execute(_OUTCOMES_SQL, {"types": list(EVENT_TYPES[kind])}).df()["hit"]
    finally:
        con.unregister("_served")
    y, p = y.to_numpy(float), served["p"].to_numpy(float)
    return LoggedQuality(closed=len(served), still_open=len(mine) - len(served),
                         auc=fast_auc(y, p) if 0 < y.sum() < len(y) else None,
                         ece=expected_calibration_error(y, p))
