"""`opsdesk crew run|approve|resume|show`: the delivery crew from a terminal, driven in this process with a live view.

`run` starts a run on a requirement (text, or @file) and shows each step as it goes until the first approval;
`approve RUN` answers it (approve, reject with a comment, or edit with a JSON file) and carries on to the next stop.
The run's Jira, GitLab and Confluence are the workspace's connections (`/crew/connections`); without them the
effect steps are skipped and the artefacts stay in the run.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

if TYPE_CHECKING:
    from opsdesk.app.context import AppContext
    from opsdesk.crew.flow.runtime import Stop
    from opsdesk.crew.runs.models import CrewRun

crew_app = typer.Typer(
    help="Delivery crew: requirement → Jira stories, GitLab merge request, Confluence pages.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
WORKSPACE = typer.Option(None, "--workspace", "-w", help="Workspace slug (default: OPSDESK_DEFAULT_WORKSPACE).")


async def _workspace_id(ctx: AppContext, workspace: str | None) -> uuid.UUID:
    from opsdesk.auth import service as auth

    async with ctx.db.session() as session:
        found = await auth.get_or_create_workspace(session, workspace or ctx.settings.default_workspace)
        return found.id


def _table(run: CrewRun) -> Table:
    table = Table(title=f"crew run {run.id} — {run.title}", caption=_caption(run))
    for column in ("step", "status", "seconds", "detail"):
        table.add_column(column)
    for step in run.steps:
        table.add_row(step["step"], step["status"], f"{step.get('seconds', 0):.2f}", str(step.get("detail") or "")[:80])
    return table


def _caption(run: CrewRun) -> str:
    where = f"waiting for {run.waiting_for}" if run.status == "waiting" else run.status
    return f"{where} · tokens {run.tokens} · cost {run.cost_usd:.4f} USD · work {run.work_s:.1f} s"


async def _watch(ctx: AppContext, run_id: uuid.UUID, drive: Awaitable[Stop]) -> Stop:
    """Drives the run while a live table shows its steps."""
    from opsdesk.crew.runs.models import CrewRun

    task = asyncio.ensure_future(drive)
    with Live(console=console, refresh_per_second=4) as live:
        while True:
            async with ctx.db.session() as session:
                run = await session.get(CrewRun, run_id)
                if run is not None:
                    live.update(_table(run))
            if task.done():
                break
            await asyncio.sleep(0.25)
    stop = task.result()
    console.print()
    _say_next(run_id, stop)
    return stop


def _say_next(run_id: uuid.UUID, stop: Stop) -> None:
    if stop.status == "waiting" and len(stop.gates) > 1:
        console.print(
            f"Waiting for [bold]{' and '.join(stop.gates)}[/bold] at once: answer each with "
            f"`opsdesk crew approve {run_id} --gate GATE` (or --reject 'comment', or --edit file.json)."
        )
    elif stop.status == "waiting":
        console.print(
            f"Waiting for [bold]{stop.gate}[/bold]: `opsdesk crew show {run_id}` to read the artefact, then "
            f"`opsdesk crew approve {run_id}` (or --reject 'comment', or --edit file.json)."
        )
    elif stop.status in ("paused", "stopped", "failed"):
        console.print(f"[yellow]{stop.status}[/yellow]: {stop.detail}\nThen: `opsdesk crew resume {run_id}`.")
    else:
        console.print("[green]completed[/green]")


@crew_app.command("run")
def run(
    requirement: str = typer.Argument(..., help="The requirement, or @path to a markdown file."),
    model: str = typer.Option(
        "local", help='"local" (offline scaffold) or a configured provider, "<provider>" or "<provider>/<model>".'
    ),
    max_tokens: int | None = typer.Option(None, min=0, help="Token budget of the run."),
    max_work_s: float | None = typer.Option(None, min=0, help="Work-time budget in seconds."),
    workspace: str | None = WORKSPACE,
) -> None:
    """Starts a run and shows it until its first approval."""
    from opsdesk.app.context import run_in_context
    from opsdesk.crew.flow.runtime import open_crew_flow
    from opsdesk.crew.runs import service
    from opsdesk.crew.runs.schemas import BudgetIn, RunIn

    text = Path(requirement[1:]).read_text() if requirement.startswith("@") else requirement

    async def action(ctx: AppContext) -> None:
        workspace_id = await _workspace_id(ctx, workspace)
        service.check_model(model, ctx.providers.names)
        body = RunIn(requirement=text, model=model, budget=BudgetIn(max_tokens=max_tokens, max_work_s=max_work_s))
        async with ctx.db.session() as session:
            created = await service.create_run(session, workspace_id, body, created_by="cli", enqueue_start=False)
            session.expunge(created)
        flow = await open_crew_flow(ctx)
        await _watch(ctx, created.id, flow.start(created))

    run_in_context(action)


@crew_app.command("approve")
def approve(
    run_id: uuid.UUID = typer.Argument(..., help="The run's id."),
    reject: str | None = typer.Option(None, "--reject", help="Reject with this comment (the step reruns)."),
    edit: Path | None = typer.Option(None, "--edit", exists=True, dir_okay=False, help="The edited artefact (JSON)."),
    gate: str | None = typer.Option(
        None, "--gate", help="The gate to answer, when the run waits at two (approve_tests, approve_pipeline)."
    ),
    workspace: str | None = WORKSPACE,
) -> None:
    """Answers the approval the run waits for (or the one --gate names) and carries on to its next stop."""
    from opsdesk.app.context import run_in_context
    from opsdesk.crew.flow.runtime import open_crew_flow
    from opsdesk.crew.runs import service
    from opsdesk.crew.runs.schemas import Answer

    if reject is not None:
        answer = Answer(decision="reject", comment=reject, gate=gate)
    elif edit is not None:
        answer = Answer(decision="edit", artefact=json.loads(edit.read_text()), gate=gate)
    else:
        answer = Answer(decision="approve", gate=gate)

    async def action(ctx: AppContext) -> None:
        workspace_id = await _workspace_id(ctx, workspace)
        async with ctx.db.session() as session:
            run = await service.get_run(session, workspace_id, run_id)
            answered = answer.model_copy(update={"gate": service.check_answer(run, answer)})
            await service.submit_answer(session, workspace_id, run_id, answered, enqueue_advance=False)
        flow = await open_crew_flow(ctx)
        await _watch(ctx, run_id, flow.answer(run_id, answered))

    run_in_context(action)


@crew_app.command("resume")
def resume(run_id: uuid.UUID = typer.Argument(..., help="The run's id."), workspace: str | None = WORKSPACE) -> None:
    """Continues a paused, stopped or failed run from its last checkpoint."""
    from opsdesk.app.context import run_in_context
    from opsdesk.crew.flow.runtime import open_crew_flow
    from opsdesk.crew.runs import service
    from opsdesk.crew.runs.schemas import ResumeIn

    async def action(ctx: AppContext) -> None:
        workspace_id = await _workspace_id(ctx, workspace)
        async with ctx.db.session() as session:
            await service.request_resume(session, workspace_id, run_id, ResumeIn(), enqueue_advance=False)
        flow = await open_crew_flow(ctx)
        await _watch(ctx, run_id, flow.resume(run_id))

    run_in_context(action)


@crew_app.command("show")
def show(
    run_id: uuid.UUID = typer.Argument(..., help="The run's id."),
    artefact: str | None = typer.Option(None, help="Print one artefact as JSON (backlog, design, implementation …)."),
    workspace: str | None = WORKSPACE,
) -> None:
    """The run's steps and links, or one artefact as JSON (to edit and pass to `approve --edit`)."""
    from opsdesk.app.context import run_in_context
    from opsdesk.crew.runs import service

    async def action(ctx: AppContext) -> None:
        workspace_id = await _workspace_id(ctx, workspace)
        async with ctx.db.session() as session:
            found = await service.get_run(session, workspace_id, run_id)
        if artefact:
            console.print_json(json.dumps(found.artefacts.get(artefact)))
            return
        console.print(_table(found))
        console.print_json(json.dumps(found.links))

    run_in_context(action)
