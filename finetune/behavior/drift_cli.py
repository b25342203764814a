"""`shopmind drift`: the drift report of every served behaviour model of a shop, printed and
written to artifacts_dir/drift/<shop>/<task>.json and .html (the latest run, swapped in
atomically)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from knowledge import warehouse
from knowledge.artifacts import replaced
from knowledge.settings import Settings

if TYPE_CHECKING:  # scipy and scikit-learn load inside the command: `shopmind --help` stays fast
    from finetune.behavior.drift import DriftReport

console = Console()


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_html(report: DriftReport) -> str:
    """One page: the verdicts, then every feature's PSI and KS (flagged rows in red)."""
    rows = "\n".join(
        f"<tr{' class=flag' if f.flagged else ''}><td>{html.escape(f.feature)}</td>"
        f"<td>{f.psi:.3f}</td><td>{f.ks:.3f}</td><td>{f.ks_pvalue:.2g}</td>"
        f"<td>{_fmt(f.reference_mean)}</td><td>{_fmt(f.current_mean)}</td></tr>"
        for f in report.features)
    label = (f"{_fmt(report.label_rate_reference)} in training, "
             f"{_fmt(report.label_rate_newest)} in the newest labelled window "
             f"({report.label_window or 'none closed yet'})"
             + (" — <b>shifted</b>" if report.label_shift_flagged else ""))
    return f"""<!doctype html><meta charset=utf-8>
<title>drift: {html.escape(report.shop)} {html.escape(report.task)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;text-align:right}}
td:first-child{{text-align:left}}.flag{{background:#fdd}}</style>
<h1>Drift: {html.escape(report.shop)} / {html.escape(report.task)}</h1>
<p>Model {html.escape(report.version)}; training cutoffs {', '.join(report.reference_cutoffs)}
({report.reference_rows:,} rows) against the users at {report.current_cutoff}
({report.current_rows:,}). Created {report.created_at}.</p>
<p><b>{len(report.flagged)}</b> feature(s) with PSI &ge; {report.psi_threshold}:
{html.escape(', '.join(report.flagged) or 'none')}.</p>
<p>Label rate: {label}.</p>
<p>Served model on the newest labelled window: AUC {_fmt(report.realised_auc)},
ECE {_fmt(report.realised_ece)}.</p>
<p>Its logged answers (predict_behavior): {html.escape(report.served_log.summary)}.</p>
<table><tr><th>feature</th><th>PSI</th><th>KS</th><th>KS p</th><th>training mean</th>
<th>current mean</th></tr>
{rows}
</table>
"""


def write_report(settings: Settings, report: DriftReport) -> tuple[Path, Path]:
    folder = settings.artifacts_dir / "drift" / report.shop
    paths = folder / f"{report.task}.json", folder / f"{report.task}.html"
    for path, text in zip(paths, (report.model_dump_json(indent=2), render_html(report))):
        with replaced(path) as tmp:
            tmp.write_text(text)
    return paths


def run_drift(settings: Settings, tasks: list[str] | None = None) -> list[DriftReport]:
    """A report per served task of the active shop (all trained tasks when `tasks` is empty)."""
    from finetune.behavior.artifacts import serving_version, trained_tasks
    from finetune.behavior.drift import drift_report
    from finetune.behavior.promotion import served_probability
    from finetune.registry import RegistryError

    reports = []
    con = warehouse.connect(settings.warehouse)
    try:
        for task in tasks or trained_tasks(settings, settings.shop):
            try:
                found = serving_version(settings, settings.shop, task)
            except RegistryError as err:
                console.print(f"[yellow]{task}: skipped: {err}[/]")
                continue
            if found is None:
                console.print(f"[yellow]{task}: no servable model, skipped[/]")
                continue
            folder, meta = found
            report = drift_report(con, settings, meta,
                                  lambda features, f=folder: served_probability(f, features))
            write_report(settings, report)
            reports.append(report)
    finally:
        con.close()
    return reports


SUMMARY_COLUMNS = ["task", "model", "flagged features (PSI)", "label rate train -> newest",
                   "realised AUC", "realised ECE", "logged answers"]


def summary_row(report: dict) -> list[str]:
    """One report (as its JSON) as one row of SUMMARY_COLUMNS: the CLI's table, the console's."""
    flagged = ", ".join(f"{f['feature']} ({f['psi']:.2f})" for f in report["features"]
                        if f["flagged"])
    logged = report.get("served_log", {}).get("summary", "not in this report (older)")
    return [report["task"], report["version"], flagged or "none",
            f"{report['label_rate_reference']:.3f} -> {_fmt(report['label_rate_newest'])}"
            + (" SHIFT" if report["label_shift_flagged"] else ""),
            _fmt(report["realised_auc"]), _fmt(report["realised_ece"]), logged]


def last_reports(settings: Settings) -> list[dict]:
    """The JSON that the last `shopmind drift` wrote for each task of the active shop."""
    folder = settings.artifacts_dir / "drift" / settings.shop
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


def drift_command(ctx: typer.Context,
                  task: Annotated[list[str] | None, typer.Option(
                      help="Repeatable, e.g. purchase_30d (default: every trained task).")] = None
                  ) -> None:
    """Feature drift (PSI, KS), label-rate shift and realised AUC of the served models."""
    settings: Settings = ctx.obj
    table = Table(*SUMMARY_COLUMNS)
    for report in run_drift(settings, task):
        table.add_row(*summary_row(report.model_dump()))
    console.print(table)
    console.print(f"reports in {settings.artifacts_dir / 'drift' / settings.shop}")
