"""The database helper: bulk work on server processes of lower CPU priority."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from opsdesk.app.context import AppContext
from tests.conftest import make_settings


async def _backend_pid(ctx: AppContext, *, background: bool) -> int:
    sessions = ctx.db.background_session() if background else ctx.db.session()
    async with sessions as session:
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


@pytest.mark.skipif(os.geteuid() != 0, reason="renicing the PostgreSQL server's processes needs root here")
async def test_bulk_sessions_run_on_lower_priority_server_processes(ctx: AppContext) -> None:
    bulk_pid = await _backend_pid(ctx, background=True)
    query_pid = await _backend_pid(ctx, background=False)

    assert bulk_pid != query_pid, "bulk work has a pool of its own"
    assert os.getpriority(os.PRIO_PROCESS, bulk_pid) == ctx.settings.worker_nice == 10
    assert os.getpriority(os.PRIO_PROCESS, query_pid) == 0, "queries keep the normal priority"


async def test_without_worker_nice_bulk_sessions_share_the_normal_pool(database_url: str, tmp_path: Path) -> None:
    ctx = await AppContext.open(make_settings(database_url, tmp_path, worker_nice=0), migrate=False)
    try:
        bulk_pid = await _backend_pid(ctx, background=True)
        assert os.getpriority(os.PRIO_PROCESS, bulk_pid) == 0
        assert ctx.db._background_engine is None
    finally:
        await ctx.close()
