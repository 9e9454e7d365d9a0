"""Schedules are visible over the API to any member, and turned off and on by whoever runs the installation (the
CLI): a schedule that is off enqueues nothing, and one turned back on does not fire the slots it missed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.jobs import registry, service
from opsdesk.jobs.models import JobSchedule
from opsdesk.jobs.registry import JobRun, task
from tests.conftest import Tenant
from tests.support.paging import assert_pages_through

NAME = "tests.nightly_report"


@task(NAME, cron="15 2 * * *")
async def nightly_report(ctx: Any, job: JobRun) -> None:
    return None


@task("tests.hourly_sweep", cron="5 * * * *")
async def hourly_sweep(ctx: Any, job: JobRun) -> None:
    return None


@task("tests.monday_digest", cron="0 7 * * 1")
async def monday_digest(ctx: Any, job: JobRun) -> None:
    return None


async def _schedule(ctx: AppContext) -> JobSchedule:
    async with ctx.db.session() as session:
        schedule = await session.get(JobSchedule, NAME)
    assert schedule is not None
    return schedule


async def _set_enabled(ctx: AppContext, enabled: bool) -> None:
    async with ctx.db.session() as session:
        await service.set_schedule_enabled(session, NAME, enabled)


async def test_members_see_the_schedules_and_strangers_do_not(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await service.sync_schedules(ctx.db, [registry.get(NAME)], ctx.settings)
    url = f"/api/v1/workspaces/{tenant.slug}/jobs/schedules"

    listed = await client.get(url, headers=tenant.headers(Role.viewer))
    anonymous = await client.get(url)

    assert listed.status_code == 200
    [mine] = [row for row in listed.json()["items"] if row["name"] == NAME]
    assert mine["cron"] == "15 2 * * *" and mine["interval_s"] is None and mine["enabled"] is True
    assert anonymous.status_code == 401


async def test_the_schedules_are_listed_by_name_a_page_at_a_time(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    names = ["tests.hourly_sweep", "tests.monday_digest", NAME]  # by name, whatever the database's collation
    await service.sync_schedules(ctx.db, [registry.get(name) for name in reversed(names)], ctx.settings)
    async with ctx.db.session() as session:
        assert set(await session.scalars(select(JobSchedule.name))) == set(names)  # nobody else wrote any

    await assert_pages_through(
        client,
        f"/api/v1/workspaces/{tenant.slug}/jobs/schedules",
        tenant.headers(Role.viewer),
        key="name",
        expected=names,
    )


async def test_a_schedule_that_is_off_enqueues_nothing_and_back_on_skips_what_it_missed(ctx: AppContext) -> None:
    await service.sync_schedules(ctx.db, [registry.get(NAME)], ctx.settings)
    slot = (await _schedule(ctx)).next_run_at
    await _set_enabled(ctx, False)

    assert await service.run_due_schedules(ctx.db, [NAME], now=slot + timedelta(days=3)) == []
    await service.sync_schedules(ctx.db, [registry.get(NAME)], ctx.settings)  # a worker restarting keeps it off
    assert (await _schedule(ctx)).enabled is False

    await _set_enabled(ctx, True)
    again = await _schedule(ctx)
    assert again.enabled and again.next_run_at >= slot  # its next slot from now, not the three it missed
    assert len(await service.run_due_schedules(ctx.db, [NAME], now=again.next_run_at)) == 1


async def test_an_unknown_schedule_is_a_clear_error(ctx: AppContext) -> None:
    from opsdesk.core.errors import NotFound

    async with ctx.db.session() as session:
        with pytest.raises(NotFound, match="No schedule named 'nope'"):
            await service.set_schedule_enabled(session, "nope", False)


def _cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "OPSDESK_DATABASE_URL": database_url,
        "OPSDESK_DATA_DIR": str(tmp_path),
        "OPSDESK_SECRET_KEY": "cli-test-secret-key-long-enough-for-hs256",
        "OPSDESK_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",  # the table's rows unwrapped
    }
    command = [sys.executable, "-m", "opsdesk.cli", "jobs", *args]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # a fresh interpreter per command
async def test_the_cli_lists_and_turns_a_schedule_off_and_on(
    ctx: AppContext, database_url: str, tmp_path: Path
) -> None:
    await service.sync_schedules(ctx.db, [registry.get(NAME)], ctx.settings)

    off = _cli(database_url, tmp_path, "disable", NAME)
    listed = _cli(database_url, tmp_path, "schedules")
    assert off.returncode == 0 and f"Schedule {NAME} is off." in off.stdout
    assert (await _schedule(ctx)).enabled is False
    assert NAME in listed.stdout and "cron 15 2 * * *" in listed.stdout

    on = _cli(database_url, tmp_path, "enable", NAME)
    unknown = _cli(database_url, tmp_path, "disable", "no.such.schedule")
    assert on.returncode == 0 and (await _schedule(ctx)).enabled is True
    assert unknown.returncode == 1 and "No schedule named 'no.such.schedule'" in unknown.stderr
