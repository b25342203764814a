"""The console's read-only Models tab: the registry's versions and the last drift reports."""

from __future__ import annotations

import gradio as gr
import pytest

from finetune.behavior.drift_cli import run_drift
from tests.trained_shop import trained_purchase_shop
from ui.models_view import build_models_view, drift_rows, version_rows


@pytest.fixture(scope="module")
def shop(small_shop, tmp_path_factory):
    return trained_purchase_shop(small_shop, tmp_path_factory.mktemp("console_models"))


def test_the_models_tab_lists_versions_then_the_last_drift_report(shop):
    versions = version_rows(shop)
    slot = versions[versions["slot"] == "behavior/synthetic/purchase_30d"]
    assert slot["status"].iloc[0] == "serving" and (slot["status"] == "serving").sum() == 1
    assert "test AUC" in slot["held-out metrics"].iloc[0]
    frame, line = drift_rows(shop)
    assert frame.empty and line == "No drift report yet: run `shopmind drift`."
    run_drift(shop, ["purchase_30d"])
    frame, line = drift_rows(shop)
    [row] = frame.to_dict("records")
    assert row["task"] == "purchase_30d" and row["model"] == slot["version"].iloc[0]
    assert row["logged answers"] == "no closed predictions yet (0 still open)"
    assert line.startswith("Last drift reports, written purchase_30d ")


def test_the_models_tab_builds_with_this_gradio(shop):
    with gr.Blocks() as blocks, gr.Tab("Models") as tab:
        build_models_view(shop, tab)
    assert any(isinstance(b, gr.Dataframe) for b in blocks.blocks.values())
