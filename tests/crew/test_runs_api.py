"""The runs API: start a run, watch it, answer its approvals through the job worker, role checks."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.crew.runs import tasks as _tasks  # noqa: F401  (registers crew.advance)
from opsdesk.jobs import registry
from opsdesk.jobs.worker import JobWorker
from tests.conftest import Tenant
from tests.crew.conftest import CrewWorkspace

SAMPLE = (
    Path(__file__).resolve().parents[2] / "src" / "opsdesk" / "crew" / "samples" / "support_tickets.md"
).read_text()


async def work_off(ctx: AppContext) -> None:
    only = {"crew.advance": registry.get("crew.advance")}
    await JobWorker(ctx, tasks=only, poll_s=0.02, schedules=False).run(until_idle=True)


def runs_url(tenant: Tenant) -> str:
    return f"/api/v1/workspaces/{tenant.slug}/crew/runs"


@pytest.mark.slow
async def test_a_run_started_over_the_api_waits_for_each_approval_and_completes(
    ctx: AppContext, client: httpx.AsyncClient, crew_workspace: CrewWorkspace
) -> None:
    tenant = crew_workspace.tenant
    headers = tenant.headers(Role.operator)
    started = await client.post(runs_url(tenant), json={"requirement": SAMPLE}, headers=headers)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    assert started.json()["status"] == "running"

    for gate in ("approve_stories", "approve_design", "approve_tests", "approve_pipeline", "approve_merge"):
        await work_off(ctx)
        shown = (await client.get(f"{runs_url(tenant)}/{run_id}", headers=tenant.headers(Role.viewer))).json()
        assert (shown["status"], shown["waiting_for"]) == ("waiting", gate), shown["detail"]
        both = gate == "approve_tests"  # tests and pipeline wait together; then the pipeline alone
        assert shown["waiting_at"] == (["approve_tests", "approve_pipeline"] if both else [gate])
        misfit = await client.post(
            f"{runs_url(tenant)}/{run_id}/approve", json={"decision": "edit", "artefact": {"x": 1}}, headers=headers
        )
        assert misfit.status_code == 422  # an edit must fit the artefact's shape; the run still waits
        answered = await client.post(
            f"{runs_url(tenant)}/{run_id}/approve", json={"decision": "approve"}, headers=headers
        )
        assert answered.status_code == 202
        again = await client.post(
            f"{runs_url(tenant)}/{run_id}/approve", json={"decision": "approve", "gate": gate}, headers=headers
        )
        assert again.status_code == 409  # answered once: the run no longer waits there
    await work_off(ctx)

    done = (await client.get(f"{runs_url(tenant)}/{run_id}", headers=headers)).json()
    assert done["status"] == "completed"
    assert done["links"]["gitlab"]["merge_request"]
    assert done["artefacts"]["qa"]["run"]["failed"] == 0
    listed = (await client.get(runs_url(tenant), headers=headers)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == run_id


async def test_runs_need_write_to_start_and_answers_are_checked(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    url = runs_url(tenant)
    viewer = await client.post(url, json={"requirement": SAMPLE}, headers=tenant.headers(Role.viewer))
    assert viewer.status_code == 403
    started = await client.post(url, json={"requirement": SAMPLE}, headers=tenant.headers(Role.operator))
    run_id = started.json()["id"]
    not_waiting = await client.post(
        f"{url}/{run_id}/approve", json={"decision": "approve"}, headers=tenant.headers(Role.operator)
    )
    assert not_waiting.status_code == 409
    no_comment = await client.post(
        f"{url}/{run_id}/approve", json={"decision": "reject"}, headers=tenant.headers(Role.operator)
    )
    assert no_comment.status_code == 422
    elsewhere = await client.get(f"{runs_url(other_tenant)}/{run_id}", headers=other_tenant.headers(Role.viewer))
    assert elsewhere.status_code == 404
    too_short = await client.post(url, json={"requirement": "hi"}, headers=tenant.headers(Role.operator))
    assert too_short.status_code == 422
    unknown = await client.post(
        url, json={"requirement": SAMPLE, "model": "nowhere/gpt"}, headers=tenant.headers(Role.operator)
    )
    assert unknown.status_code == 422 and "local" in unknown.json()["error"]["message"]


async def test_a_runs_progress_streams_as_server_sent_events(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    from opsdesk.crew.runs import service
    from opsdesk.crew.runs.models import CrewRun
    from opsdesk.crew.runs.schemas import RunIn

    async with ctx.db.session() as session:
        run = await service.create_run(session, tenant.workspace_id, RunIn(requirement=SAMPLE), created_by="test")
        run_id = run.id
    stream = service.run_events(ctx, tenant.workspace_id, run_id)
    first = await anext(stream)  # a running run: progress, and the stream stays open
    assert first["event"] == "progress" and json.loads(first["data"])["status"] == "running"
    await stream.aclose()

    async with ctx.db.session() as session:
        stored = await session.get(CrewRun, run_id)
        assert stored is not None
        stored.status = "completed"
    answer = await client.get(f"{runs_url(tenant)}/{run_id}/events", headers=tenant.headers(Role.viewer))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    assert "event: completed" in answer.text
    missing = await client.get(f"{runs_url(tenant)}/{uuid.uuid4()}/events", headers=tenant.headers(Role.viewer))
    assert missing.status_code == 404
