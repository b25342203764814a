"""The console's Models tab, read-only: every registered version (slot, status, data end,
held-out metrics, the gate's note) and the last drift report of each served task, as
`shopmind models list` and `shopmind drift` print them. Changing what serves stays on the
command line (`shopmind models promote | rollback`)."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from finetune import registry
from finetune.behavior.drift_cli import SUMMARY_COLUMNS, last_reports, summary_row
from finetune.registry_cli import held_out_summary
from knowledge.settings import Settings

VERSION_COLUMNS = ["slot", "version", "status", "data end", "held-out metrics", "note"]


def version_rows(settings: Settings) -> pd.DataFrame:
    """Every version of every slot: serving first within a slot, then candidates, then retired,
    newest first within each."""
    order = {"serving": 0, "candidate": 1, "retired": 2}
    rows = [[name, v.version, v.status, str(v.data_window.get("data_end", "")), held_out_summary(v),
             v.note]
            for name, slot in sorted(registry.load(settings).slots.items())
            for v in sorted(sorted(slot.versions, key=lambda v: v.created_at, reverse=True),
                            key=lambda v: order[v.status])]
    return pd.DataFrame(rows, columns=VERSION_COLUMNS)


def drift_rows(settings: Settings) -> tuple[pd.DataFrame, str]:
    """(one row per task's last drift report, a line saying when they were written)."""
    reports = last_reports(settings)
    frame = pd.DataFrame([summary_row(r) for r in reports], columns=SUMMARY_COLUMNS)
    if not reports:
        return frame, "No drift report yet: run `shopmind drift`."
    return frame, "Last drift reports, written " + ", ".join(
        f"{r['task']} {r['created_at'].replace('T', ' ')}" for r in reports) + "."


def build_models_view(settings: Settings, tab: gr.Tab) -> None:
    """The tab's content (call inside `tab`): loaded when the tab is opened and on Refresh."""
    refresh = gr.Button("Refresh")
    versions = gr.Dataframe(label="registered versions", interactive=False, wrap=True)
    when = gr.Markdown()
    drift = gr.Dataframe(label="drift of the served behaviour models", interactive=False,
                         wrap=True)

    def load() -> tuple[pd.DataFrame, str, pd.DataFrame]:
        frame, line = drift_rows(settings)
        return version_rows(settings), line, frame

    gr.on([tab.select, refresh.click], load, None, [versions, when, drift])
