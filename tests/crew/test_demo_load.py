"""`opsdesk up --demo`'s crew part (without starting `up`): the local vendors on free ports, the workspace connected
to them, a sample run that the job worker takes to its first approval; loading again changes nothing, and a real
vendor's connection is left alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.crew.connections.schemas import ConnectionIn
from opsdesk.crew.connections.secrets import TokenCipher
from opsdesk.crew.connections.service import check_connection, list_connections, put_connection
from opsdesk.crew.demo.load import load_crew_demo, stop_demo_vendors
from opsdesk.crew.runs.models import CrewRun
from opsdesk.jobs.models import Job
from tests.conftest import Tenant
from tests.crew.conftest import POLICY
from tests.crew.test_runs_api import work_off


@pytest.fixture
def vendors_stopped_after(ctx: AppContext) -> Iterator[None]:
    yield
    stop_demo_vendors(ctx.settings.data_dir)


async def test_the_demo_connects_the_local_vendors_and_starts_a_sample_run_once(
    ctx: AppContext, tenant: Tenant, vendors_stopped_after: None
) -> None:
    cipher = TokenCipher(ctx.settings.jwt_secret())
    async with ctx.db.session() as session:  # a real Jira the workspace already uses
        real = ConnectionIn(base_url="https://acme.atlassian.net", username="me@acme.test", token="t", scope="ACME")
        await put_connection(session, tenant.workspace_id, "jira", real, cipher)

    loaded = await load_crew_demo(ctx, tenant.workspace_id)
    assert set(loaded.urls) == {"confluence", "gitlab"} and loaded.run_started
    async with ctx.db.session() as session:
        rows = {row.vendor: row for row in await list_connections(session, tenant.workspace_id)}
        assert rows["jira"].base_url == "https://acme.atlassian.net"  # left alone
        for vendor in ("confluence", "gitlab"):
            assert rows[vendor].base_url == loaded.urls[vendor]
            checked = await check_connection(session, tenant.workspace_id, vendor, cipher, POLICY)  # type: ignore[arg-type]
            assert checked.ok, checked.detail
        runs = list(await session.scalars(select(CrewRun).where(CrewRun.workspace_id == tenant.workspace_id)))
        assert [run.id for run in runs] == [loaded.run_id] and runs[0].created_by == "demo"
        assert "book" in runs[0].requirement.lower()

    again = await load_crew_demo(ctx, tenant.workspace_id)
    assert (again.run_id, again.run_started, again.urls) == (loaded.run_id, False, loaded.urls)
    async with ctx.db.session() as session:
        queued = list(await session.scalars(select(Job).where(Job.task == "crew.advance")))
    assert len(queued) == 1  # one start for the one run

    await work_off(ctx)  # what the worker of `opsdesk up` does next
    async with ctx.db.session() as session:
        run = await session.get(CrewRun, loaded.run_id)
        assert run is not None
        assert (run.status, run.waiting_for) == ("waiting", "approve_stories"), run.detail
