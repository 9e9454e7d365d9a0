"""`opsdesk plan import|forecast|recommend|report`: the planner from a terminal, in this process (no server needed).

`forecast` queues the job like the API does and runs it here, with a progress bar; `recommend` prints the plan with
each line's reason and can write it as Excel; `report` writes a PDF with the plan and its charts.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from opsdesk.app.context import AppContext

plan_app = typer.Typer(help="Inventory planner: import, forecast, recommend, report.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
WORKSPACE = typer.Option(None, "--workspace", "-w", help="Workspace slug (default: OPSDESK_DEFAULT_WORKSPACE).")


async def _workspace_id(ctx: AppContext, workspace: str | None) -> Any:
    from opsdesk.auth import service as auth

    async with ctx.db.session() as session:
        return (await auth.get_or_create_workspace(session, workspace or ctx.settings.default_workspace)).id


@plan_app.command("import")
def import_(
    folder: Path = typer.Argument(None, exists=True, file_okay=False, help="A folder of items.csv, sales.csv …"),
    demo: bool = typer.Option(False, "--demo", help="Load the invented dealership instead."),
    walmart: Path | None = typer.Option(
        None, "--walmart", exists=True, dir_okay=False, help="Load Walmart's weekly store sales (stores as items)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report; write nothing."),
    workspace: str | None = WORKSPACE,
) -> None:
    """Imports a folder of planner files (named by kind: items, inventory, sales, market, allocations, feedback)."""
    from opsdesk.app.context import run_in_context
    from opsdesk.planner.demo import walmart_files
    from opsdesk.planner.demo.load import KINDS, load_dealership
    from opsdesk.planner.imports.schemas import UploadedFile
    from opsdesk.planner.imports.service import import_files

    if not demo and folder is None and walmart is None:
        raise typer.BadParameter("Give a folder, --demo or --walmart PATH.")
    files: dict[str, bytes] = {}
    if walmart is not None:
        files = walmart_files(walmart)
    elif folder is not None and not demo:
        files = {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}
    uploads = []
    for name, data in files.items():
        stem, _, suffix = name.lower().rpartition(".")
        kind = KINDS.get(stem + ".csv")
        if kind is not None and suffix in ("csv", "xlsx"):
            uploads.append(UploadedFile(kind=kind, file_name=name, data=data))
    if not demo and not uploads:
        raise typer.BadParameter(f"No planner files in {folder} (expected e.g. items.csv, sales.xlsx).")

    async def action(ctx: AppContext) -> Any:
        workspace_id = await _workspace_id(ctx, workspace)
        async with ctx.db.session() as session:
            if demo:
                return await load_dealership(session, workspace_id)
            return await import_files(session, workspace_id, uploads, dry_run=dry_run)

    report = run_in_context(action)
    for file in report.files:
        console.print(f"{file.file_name}: {file.rows} rows, {file.created} new, {file.updated} changed")
    for problem in report.problems[:50]:
        where = f"{problem.file_name} row {problem.row}" + (f" [{problem.column}]" if problem.column else "")
        colour = "red" if problem.severity == "error" else "yellow"
        console.print(f"[{colour}]{problem.severity}[/{colour}] {where}: {problem.problem}")
    console.print(report.message)
    if report.errors:
        raise typer.Exit(1)


@plan_app.command("forecast")
def forecast(
    horizon: int = typer.Option(8, min=1, max=104, help="Periods ahead."),
    monthly: bool = typer.Option(False, "--monthly", help="Monthly instead of weekly."),
    workspace: str | None = WORKSPACE,
) -> None:
    """Forecasts every active item (statsforecast ensemble, 80/95 % intervals) and shows the models chosen."""
    from opsdesk.app.context import run_in_context
    from opsdesk.jobs import registry
    from opsdesk.jobs.worker import run_pending
    from opsdesk.planner.runs import forecasts
    from opsdesk.planner.runs import tasks as planner_tasks

    async def action(ctx: AppContext) -> Any:
        workspace_id = await _workspace_id(ctx, workspace)
        async with ctx.db.session() as session:
            run = await forecasts.start_forecast(session, workspace_id, freq="MS" if monthly else "W", horizon=horizon)
            run_id = run.id
        task = registry.find(forecasts.FORECAST_TASK)
        assert task is not None and planner_tasks.forecast is not None
        worker = asyncio.create_task(run_pending(ctx, tasks={forecasts.FORECAST_TASK: task}))
        columns = (TextColumn("forecasting"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
        with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
            shown = bar.add_task("forecast", total=None)
            while not worker.done():
                await asyncio.sleep(0.5)
                async with ctx.db.session() as session:
                    progress = (await forecasts.get_run(session, workspace_id, run_id)).progress or {}
                if progress.get("total"):
                    bar.update(shown, completed=progress["done"], total=progress["total"])
        await worker
        async with ctx.db.session() as session:
            return await forecasts.get_run(session, workspace_id, run_id)

    run = run_in_context(action)
    if run.status != "succeeded":
        err_console.print(f"[red]forecast failed:[/red] {run.error}")
        raise typer.Exit(1)
    console.print(f"Forecast {run.id}: {run.series} series, {run.horizon} periods ahead")
    console.print(json.dumps(run.summary, indent=2))


@plan_app.command("recommend")
def recommend(
    xlsx: Path | None = typer.Option(None, "--xlsx", help="Also write the plan as an Excel workbook here."),
    workspace: str | None = WORKSPACE,
) -> None:
    """Solves the order plan on the newest forecast and the workspace's constraints; prints each line's reason."""

    from opsdesk.app.context import run_in_context
    from opsdesk.planner.runs import recommendations

    async def action(ctx: AppContext) -> Any:
        workspace_id = await _workspace_id(ctx, workspace)
        async with ctx.db.session() as session:
            run = await recommendations.recommend(session, workspace_id, created_by="cli")
            data = await recommendations.workbook(session, workspace_id, run) if xlsx is not None else b""
            return run, await recommendations.lines_of(session, run.id), data

    run, lines, data = run_in_context(action)
    table = Table("item", "line", "order", "stock after", "reason", title=f"Recommendation ({run.status})")
    for line in lines:
        table.add_row(line.item_key, line.model_line, str(line.quantity), str(line.stock_after), line.reason)
    console.print(table)
    console.print(f"Total: {run.totals.get('units')} units, cost {run.totals.get('cost', 0):,.0f}")
    if run.infeasibility:
        console.print(f"[yellow]{run.infeasibility['message']}[/yellow]")
    if xlsx is not None:
        xlsx.write_bytes(data)
        console.print(f"Wrote {xlsx}")


@plan_app.command("report")
def report(
    out: Path = typer.Option(..., "--out", "-o", dir_okay=False, help="Write the PDF report here."),
    png_dir: Path | None = typer.Option(None, "--png-dir", file_okay=False, help="Also write each chart as PNG here."),
    workspace: str | None = WORKSPACE,
) -> None:
    """Writes the newest plan as a PDF: the order with each line's reason, every item's measures and the charts."""
    from opsdesk.app.context import run_in_context
    from opsdesk.planner.reports import charts
    from opsdesk.planner.reports.pdf import planner_report_pdf

    async def action(ctx: AppContext) -> Any:
        workspace_id = await _workspace_id(ctx, workspace)
        name = workspace or ctx.settings.default_workspace
        async with ctx.db.session() as session:
            built, names = await charts.build_report(session, workspace_id, title=f"Order recommendation: {name}")
        pngs = {chart_name: chart.png for chart_name, chart in zip(names, built.charts, strict=True)}
        return await asyncio.to_thread(planner_report_pdf, built), pngs

    pdf, pngs = run_in_context(action)
    out.write_bytes(pdf)
    console.print(f"Wrote {out} ({len(pdf):,} bytes)")
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)
        for chart_name, png in pngs.items():
            (png_dir / f"{chart_name}.png").write_bytes(png)
            console.print(f"Wrote {png_dir / f'{chart_name}.png'}")
