"""The crew flow end to end against the local Jira, Confluence and GitLab, with the test answering every gate."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.crew.flow.runtime import CrewFlow, Stop
from opsdesk.crew.flow.state import Answer
from opsdesk.crew.runs import service
from opsdesk.crew.runs.models import CrewRun
from opsdesk.crew.runs.schemas import RunIn
from opsdesk.events.models import OutboxEvent
from tests.crew.conftest import TOKEN, CrewWorkspace

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "opsdesk" / "crew" / "samples"
APPROVE = Answer(decision="approve")


async def new_run(ctx: AppContext, workspace_id: uuid.UUID, requirement: str, **budget: float) -> CrewRun:
    async with ctx.db.session() as session:
        body = RunIn(requirement=requirement, budget=budget)  # type: ignore[arg-type]
        run = await service.create_run(session, workspace_id, body, created_by="test", enqueue_start=False)
        session.expunge(run)
    return run


async def approve_until(flow: CrewFlow, run_id: uuid.UUID, gate: str) -> Stop:
    """Approves every gate the run waits at until it waits at ``gate`` (the parallel ones each by name)."""
    for _ in range(12):
        pending = await flow.waiting_gates(run_id)
        if gate in pending or not pending:
            break
        stop = await flow.answer(run_id, Answer(decision="approve", gate=next(iter(pending))))  # type: ignore[arg-type]
    assert gate in await flow.waiting_gates(run_id), stop.detail
    return stop


async def load(ctx: AppContext, run_id: uuid.UUID) -> CrewRun:
    async with ctx.db.session() as session:
        run = await session.get(CrewRun, run_id)
        assert run is not None
        session.expunge(run)
        return run


@pytest.mark.slow
async def test_a_requirement_goes_through_every_step_to_jira_gitlab_and_confluence(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    requirement = (SAMPLES / "book_library.md").read_text()
    run = await new_run(ctx, crew_workspace.workspace_id, requirement)

    stop = await crew_flow.start(run)
    assert (stop.status, stop.gate) == ("waiting", "approve_stories")
    assert not crew_workspace.vendors.jira.writes(r".*")  # nothing written before the stories are approved
    stop = await crew_flow.answer(run.id, APPROVE)
    assert (stop.status, stop.gate) == ("waiting", "approve_design")
    stop = await crew_flow.answer(run.id, APPROVE)
    assert (stop.status, stop.gates) == ("waiting", ("approve_tests", "approve_pipeline"))  # QA ∥ DevOps
    stop = await crew_flow.answer(run.id, APPROVE)
    assert (stop.status, stop.gate) == ("waiting", "approve_pipeline")
    stop = await crew_flow.answer(run.id, APPROVE)
    assert (stop.status, stop.gate) == ("waiting", "approve_merge")
    stop = await crew_flow.answer(run.id, APPROVE)
    assert stop.status == "completed", stop.detail

    done = await load(ctx, run.id)
    assert done.status == "completed"
    steps = [step["step"] for step in done.steps]
    for name in (
        "analyse",
        "approve_stories",
        "jira_stories",
        "design",
        "approve_design",
        "implement",
        "qa",
        "devops",
        "approve_tests",
        "approve_pipeline",
        "docs",
        "approve_merge",
        "publish_code",
        "publish_docs",
        "finish",
    ):
        assert name in steps
    qa = done.artefacts["qa"]["run"]
    assert qa["exit_code"] == 0 and qa["failed"] == 0 and qa["passed"] > 10  # the project's own tests pass
    assert qa["isolation"] in ("network namespace", "socket guard")

    # Jira: epics and stories with criteria, stories in their epics, dependencies linked
    jira = crew_workspace.vendors.jira
    created = [w for w in jira.writes(r"/rest/api/2/issue/bulk")]
    assert len(created) == 1
    keys = done.links["jira"]
    assert {"E1", "S1"} <= set(keys)
    story = await _jira_issue(crew_workspace, keys["S1"])
    assert "Given a valid book" in str(story["fields"])
    assert any(w for w in jira.writes(r"issueLink"))

    # GitLab: the branch, one commit with the project, the merge request
    gitlab = done.links["gitlab"]
    repo = crew_workspace.vendors.gitlab.repo_path("opsdesk/demo")
    listing = await asyncio.to_thread(
        subprocess.run,
        ["git", "--git-dir", str(repo), "ls-tree", "-r", "--name-only", gitlab["branch"]],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    files = listing.stdout.split()
    for path in (
        "app/main.py",
        "app/book.py",
        "tests/test_book.py",
        ".gitlab-ci.yml",
        "Dockerfile",
        "README.md",
        "SCAFFOLD.md",
        "docs/api.md",
    ):
        assert path in files
    assert gitlab["merge_request"]

    # Confluence: the run's page and its children
    pages = done.links["confluence"]
    assert {"parent", "README", "API reference"} <= set(pages)

    # events, in order, through the outbox
    async with ctx.db.session() as session:
        events = list(
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.key == f"crew-run:{run.id}").order_by(OutboxEvent.seq)
            )
        )
    types = [event.event_type for event in events]
    assert types[0] == "agent.task.assigned"
    assert types.count("approval.requested") == 5
    assert "agent.task.completed" in types and "workflow.step.completed" in types
    assert all(TOKEN not in str(event.payload) for event in events)


async def _jira_issue(workspace: CrewWorkspace, key: str) -> dict[str, object]:
    import httpx

    async with httpx.AsyncClient(auth=("opsdesk", TOKEN), timeout=10) as http:
        answer = await http.get(f"{workspace.vendors.jira.url}/rest/api/2/issue/{key}")
        answer.raise_for_status()
        return dict(answer.json())
