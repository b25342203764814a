"""A trained recommender on disk: artifacts_dir/recommend/<shop>/<version>/ holds one folder per
component, items.json, the product text index and meta.json (`RecommendMeta`). A version folder
never changes after training; the registry (slot ``recommend/<shop>``) says which one serves.
Light on imports (no model code), so checking whether the data changed stays fast."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from knowledge import warehouse
from knowledge.artifacts import utc_now
from knowledge.product_index import data_version, recommend_dir
from knowledge.settings import Settings


class RecommendMeta(BaseModel):
    version: str
    shop: str
    data_version: str
    trained_until: str
    items: int
    users: int
    events: int
    valid_days: float
    als_alpha: float
    components: list[str]
    weights: dict[str, dict[str, float]]  # protocol -> component -> weight
    validation: dict[str, dict[str, float]]  # protocol -> hybrid metrics on the validation window
    heldout: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="protocol -> metrics of the held-out twin (fitted "
        "before the validation cutoff, weights tuned on the other half of the users) on the "
        "held-out users' events after the cutoff")
    created_at: str = Field(default_factory=utc_now)


def new_version() -> str:
    return f"recommend-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"


def latest(settings: Settings) -> RecommendMeta | None:
    """The newest trained version of the active shop (served or not)."""
    metas = [RecommendMeta.model_validate_json(f.read_text())
             for f in recommend_dir(settings).glob("recommend-*/meta.json")]
    return max(metas, key=lambda m: m.created_at, default=None)


def is_current(settings: Settings) -> bool:
    """True when the newest version was trained on the warehouse as it is now (a candidate the
    gate refused counts: the same data is not trained again)."""
    newest = latest(settings)
    if newest is None or not settings.warehouse.is_file():
        return False
    con = warehouse.connect(settings.warehouse)
    try:
        version = data_version(con)
    finally:
        con.close()
    return newest.data_version == version
