"""Shared fixtures. Tests never download anything (HF_HUB_OFFLINE=1) and write only to tmp."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from knowledge.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "datasets").resolve()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings that write only under tmp_path and read the real datasets if present."""
    return Settings(
        data_dir=SHARED_DATA,
        warehouse_dir=tmp_path / "data",
        artifacts_dir=tmp_path / "artifacts",
        synthetic_users=300,
        synthetic_products=80,
        synthetic_days=120,
    )


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/datasets is not beside the repository")
    return SHARED_DATA


@pytest.fixture(scope="session")
def small_shop(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small synthetic shop, imported once per test session. Tests must not modify it;
    copy the warehouse file first if a test writes."""
    from knowledge.cli import import_source

    root = tmp_path_factory.mktemp("small_shop")
    shop = Settings(
        data_dir=SHARED_DATA,
        warehouse_dir=root / "data",
        artifacts_dir=root / "artifacts",
        synthetic_users=300,
        synthetic_products=80,
        synthetic_days=120,
    )
    import_source(shop, "synthetic", into=shop.warehouse)
    return shop


@pytest.fixture(scope="session")
def tau_shop(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The tau-bench retail warehouse, imported once per session. Tests must not change it
    (use a transaction they roll back, or copy the file first)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/datasets is not beside the repository")
    from knowledge.cli import import_source

    root = tmp_path_factory.mktemp("tau_shop")
    shop = Settings(data_dir=SHARED_DATA, shop="tau_bench_retail", warehouse_dir=root / "data",
                    artifacts_dir=root / "artifacts")
    import_source(shop, "tau_bench_retail", into=shop.warehouse)
    return shop


@pytest.fixture(scope="session", params=["synthetic", "tau_bench_retail"])
def cs_shop(request: pytest.FixtureRequest) -> Settings:
    """A shop with the customer-service tables (users, orders, payments, ...): the synthetic
    shop always, and the tau-bench one as well when ../shared/datasets is there. Read-only, like
    the shops it stands for: copy the warehouse file first if a test writes
    (``tests.shops.private_copy``)."""
    return request.getfixturevalue("small_shop" if request.param == "synthetic" else "tau_shop")


@pytest.fixture(scope="session")
def uplift_experiment():
    """A toy randomised campaign (3 arms) with known effects, as campaign_assignments rows:
    the email lifts conversion by 0.2 for group "a" users only, the coupon by 0.15 when x > 5."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 3000
    x = rng.uniform(0, 10, n).round(2)
    group = rng.choice(["a", "b"], n)
    arm = rng.choice(["control", "email", "coupon"], n)
    effect = np.where(arm == "email", 0.2 * (group == "a"), 0.0) \
        + np.where(arm == "coupon", 0.15 * (x > 5), 0.0)
    conversion = rng.random(n) < 0.1 + 0.01 * x + effect
    return pd.DataFrame({
        "campaign_id": "toy", "user_id": [f"u{i:04d}" for i in range(n)], "arm": arm,
        "treated": arm != "control", "visit": conversion | (rng.random(n) < 0.3),
        "conversion": conversion, "spend": np.where(conversion, 50.0, 0.0),
        "covariates": [{"x": float(a), "group": g} for a, g in zip(x, group)],
        "true_uplift": effect,
    })


@pytest.fixture(scope="session")
def tiny_dialog_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer model of the dialog architecture with the real tokenizer
    and chat template (finetune.dialog.base.make_tiny_model). Read-only for tests."""
    from finetune.dialog.base import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny_dialog") / "model")
