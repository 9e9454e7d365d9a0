"""A run waiting for approval is a case in the operator inbox (the escalations the order and voice desks use), with
what to approve and the run's link; answering the approval, through the API's service or the flow, resolves it."""

from __future__ import annotations

import uuid

import httpx

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.conversation.escalation import list_escalations
from opsdesk.conversation.models import Escalation
from opsdesk.crew.flow.runtime import CrewFlow
from opsdesk.crew.flow.state import Answer
from opsdesk.crew.runs import service
from tests.crew.conftest import TOKEN, CrewWorkspace
from tests.crew.test_flow import APPROVE, SAMPLES, new_run


async def _cases(ctx: AppContext, workspace_id: uuid.UUID, status: str) -> list[Escalation]:
    async with ctx.db.session() as session:
        cases, _ = await list_escalations(session, workspace_id, status=status)
    return list(cases)


async def test_each_waiting_gate_is_an_inbox_case_that_its_answer_resolves(
    ctx: AppContext, client: httpx.AsyncClient, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    workspace_id = crew_workspace.workspace_id
    run = await new_run(ctx, workspace_id, (SAMPLES / "book_library.md").read_text())
    await crew_flow.start(run)

    [case] = await _cases(ctx, workspace_id, "open")
    assert f"/crew/runs/{run.id}" in case.reason and "approve_stories" in case.reason
    assert "epics" in case.reason and "stories" in case.reason  # a summary of what to approve
    assert case.level == "staff" and TOKEN not in case.reason
    tenant = crew_workspace.tenant
    inbox = await client.get(f"/api/v1/workspaces/{tenant.slug}/inbox/escalations", headers=tenant.headers(Role.viewer))
    assert inbox.status_code == 200 and [item["id"] for item in inbox.json()["items"]] == [str(case.id)]

    async with ctx.db.session() as session:  # the API's and the console's path: the answer is accepted
        await service.submit_answer(session, workspace_id, run.id, APPROVE, enqueue_advance=False)
    assert await _cases(ctx, workspace_id, "open") == []
    [resolved] = await _cases(ctx, workspace_id, "resolved")
    assert resolved.id == case.id and resolved.notes[-1]["text"] == "approve_stories: approved"

    stop = await crew_flow.answer(run.id, APPROVE)  # the worker drives on: the next gate is a new case
    assert stop.gate == "approve_design"
    [design] = await _cases(ctx, workspace_id, "open")
    assert "approve_design" in design.reason and "modules" in design.reason

    stop = await crew_flow.answer(run.id, Answer(decision="reject", comment="Split the loans module"))
    assert stop.gate == "approve_design"  # asked again: the old case is resolved, a new one is open
    [again] = await _cases(ctx, workspace_id, "open")
    assert again.id != design.id
    assert len(await _cases(ctx, workspace_id, "resolved")) == 2

    stop = await crew_flow.answer(run.id, APPROVE)
    assert stop.gates == ("approve_tests", "approve_pipeline")  # two approvals at once: two cases
    waiting = sorted(c.reason for c in await _cases(ctx, workspace_id, "open"))
    assert len(waiting) == 2
    assert "approve_pipeline" in waiting[0] and ".gitlab-ci.yml" in waiting[0]
    assert "approve_tests" in waiting[1] and "tests passed" in waiting[1]
