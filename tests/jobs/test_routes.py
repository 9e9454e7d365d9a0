"""The jobs API: any member lists and reads a workspace's jobs (ingestion's too), admins and operators retry and
cancel them, viewers may not, and another workspace's jobs do not exist."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.jobs import service
from opsdesk.jobs.registry import JobRun, RetryPolicy, task
from opsdesk.knowledge.ingest import jobs as ingestion
from opsdesk.knowledge.models import KnowledgeBase
from tests.conftest import Tenant


@task("tests.api.job", max_attempts=2)
async def api_job(ctx: Any, job: JobRun) -> None:
    return None


def _url(tenant: Tenant, suffix: str = "") -> str:
    return f"/api/v1/workspaces/{tenant.slug}/jobs{suffix}"


async def _enqueue(ctx: AppContext, tenant: Tenant, **payload: Any) -> uuid.UUID:
    async with ctx.db.session() as session:
        return (await service.enqueue(session, "tests.api.job", payload, workspace_id=tenant.workspace_id)).id


async def _fail(ctx: AppContext) -> None:
    lease = await service.claim(ctx.db, ["tests.api.job"])
    assert lease is not None
    await service.fail(ctx.db, lease, "RuntimeError: broke", RetryPolicy(), retry=False)


async def test_members_list_and_read_jobs_with_filters_and_pages(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = await _enqueue(ctx, tenant, n=1)
    await _enqueue(ctx, tenant, n=2)
    await _enqueue(ctx, other_tenant, n=3)
    await _fail(ctx)  # the oldest due job: the first

    everything = await client.get(_url(tenant), headers=tenant.headers(Role.viewer))
    page = await client.get(_url(tenant), params={"limit": 1, "offset": 1}, headers=tenant.headers(Role.viewer))
    failed = await client.get(_url(tenant), params={"status": "failed"}, headers=tenant.headers(Role.viewer))
    by_prefix = await client.get(_url(tenant), params={"task": "tests.api"}, headers=tenant.headers(Role.viewer))
    one = await client.get(_url(tenant, f"/{first}"), headers=tenant.headers(Role.viewer))

    assert everything.status_code == 200 and everything.json()["total"] == 2
    assert [job["payload"] for job in everything.json()["items"]] == [{"n": 2}, {"n": 1}]  # newest first
    assert page.json()["items"][0]["payload"] == {"n": 1} and page.json()["total"] == 2
    assert (page.json()["limit"], page.json()["offset"]) == (1, 1)
    assert [job["id"] for job in failed.json()["items"]] == [str(first)]
    assert by_prefix.json()["total"] == 2
    assert one.status_code == 200
    assert one.json()["status"] == "failed" and one.json()["last_error"] == "RuntimeError: broke"
    assert one.json()["source"] == "jobs"


async def test_admins_and_operators_retry_and_cancel_viewers_may_not(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    failed = await _enqueue(ctx, tenant, n=1)
    await _fail(ctx)
    queued = await _enqueue(ctx, tenant, n=2)

    refused = await client.post(_url(tenant, f"/{failed}/retry"), headers=tenant.headers(Role.viewer))
    not_cancelled = await client.post(_url(tenant, f"/{queued}/cancel"), headers=tenant.headers(Role.viewer))
    retried = await client.post(_url(tenant, f"/{failed}/retry"), headers=tenant.headers(Role.operator))
    cancelled = await client.post(_url(tenant, f"/{queued}/cancel"), headers=tenant.headers())  # an admin's token
    again = await client.post(_url(tenant, f"/{queued}/cancel"), headers=tenant.headers(Role.admin))
    not_failed = await client.post(_url(tenant, f"/{failed}/retry"), headers=tenant.headers(Role.admin))

    assert refused.status_code == 403 and not_cancelled.status_code == 403
    assert retried.status_code == 200
    assert retried.json()["status"] == "queued" and retried.json()["max_attempts"] == 1 + 2  # the task's allowance
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409 and not_failed.status_code == 409
    lease = await service.claim(ctx.db, ["tests.api.job"])
    assert lease is not None and lease.job_id == failed and lease.attempt == 2  # the cancelled one never runs
    assert await service.claim(ctx.db, ["tests.api.job"]) is None


async def test_a_running_job_cancelled_loses_its_lease(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    job_id = await _enqueue(ctx, tenant)
    lease = await service.claim(ctx.db, ["tests.api.job"])
    assert lease is not None

    cancelled = await client.post(_url(tenant, f"/{job_id}/cancel"), headers=tenant.headers(Role.operator))

    assert cancelled.json()["status"] == "cancelled"
    assert not await service.heartbeat(ctx.db, lease)  # the worker stops at its next beat
    assert not await service.complete(ctx.db, lease, "too late")


async def test_another_workspaces_job_is_not_found(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await _enqueue(ctx, other_tenant)

    for method, suffix in (("GET", ""), ("POST", "/retry"), ("POST", "/cancel")):
        response = await client.request(method, _url(tenant, f"/{theirs}{suffix}"), headers=tenant.headers())
        assert response.status_code == 404, (method, suffix)
    wrong = await client.get(_url(other_tenant), headers=tenant.headers())
    assert wrong.status_code == 403


@pytest.mark.parametrize("bad", [{"limit": "0"}, {"limit": "201"}, {"offset": "-1"}, {"offset": "1000001"}])
async def test_a_page_out_of_bounds_is_a_422(client: httpx.AsyncClient, tenant: Tenant, bad: dict[str, str]) -> None:
    response = await client.get(_url(tenant), params=bad, headers=tenant.headers(Role.viewer))
    assert response.status_code == 422, bad


@pytest.mark.parametrize("bad", ["not-a-uuid", "%00"])
async def test_a_bad_job_id_is_a_400_class_answer(client: httpx.AsyncClient, tenant: Tenant, bad: str) -> None:
    response = await client.get(_url(tenant, f"/{bad}"), headers=tenant.headers())
    assert 400 <= response.status_code < 500


async def test_ingestion_jobs_are_listed_cancelled_and_retried_through_the_jobs_api(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    async with ctx.db.session() as session:
        kb = KnowledgeBase(workspace_id=tenant.workspace_id, name="runbooks", description="", tags=[])
        session.add(kb)
        await session.flush()
        job = await ingestion.create_job(session, kb, "crawl", {"url": "https://example.com/", "max_pages": 3})
        job_id = job.id

    listed = await client.get(_url(tenant), params={"task": "knowledge.ingest"}, headers=tenant.headers(Role.viewer))
    cancelled = await client.post(_url(tenant, f"/{job_id}/cancel"), headers=tenant.headers(Role.operator))
    claimed_after_cancel = await service.claim(ctx.db, [ingestion.TASK])
    async with ctx.db.session() as session:
        row_after_cancel = await ingestion.get_job(session, kb, job_id)
    retried = await client.post(_url(tenant, f"/{job_id}/retry"), headers=tenant.headers(Role.operator))
    async with ctx.db.session() as session:
        row_after_retry = await ingestion.get_job(session, kb, job_id)

    [item] = listed.json()["items"]  # one job, under the ingestion job's id
    assert item["id"] == str(job_id) and item["source"] == "jobs" and item["status"] == "queued"
    assert item["task"] == "knowledge.ingest" and item["max_attempts"] == ingestion.MAX_ATTEMPTS
    assert item["payload"] == {"ingestion_job_id": str(job_id), "kb_id": str(kb.id), "kind": "crawl"}
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert claimed_after_cancel is None
    assert (row_after_cancel.status, row_after_cancel.error) == ("failed", service.CANCELLED)
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    assert (row_after_retry.status, row_after_retry.error) == ("queued", None)
    lease = await service.claim(ctx.db, [ingestion.TASK])
    assert lease is not None and lease.job_id == job_id
