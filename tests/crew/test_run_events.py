"""A run's event stream wakes on the run's change notice (PostgreSQL NOTIFY at commit), not on a poll: every test
sets the fallback poll to an hour, so an event that arrives at all arrived because the stream was woken."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from opsdesk.app.context import AppContext
from opsdesk.crew.flow.record import RunRecorder
from opsdesk.crew.runs import service
from opsdesk.crew.runs.schemas import RunIn
from opsdesk.db.notify import notifications
from tests.conftest import Tenant

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENT = "# Notes\n\nA note has a `title` (text, 1 to 80 characters). Notes are served at /api/notes."
GUARD_S = 60.0  # only keeps a broken stream from hanging the suite; the fallback poll is an hour


@pytest.fixture(autouse=True)
def hour_long_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "_FALLBACK_POLL_S", 3600.0)


async def new_run(ctx: AppContext, tenant: Tenant) -> uuid.UUID:
    async with ctx.db.session() as session:
        run = await service.create_run(
            session, tenant.workspace_id, RunIn(requirement=REQUIREMENT), created_by="test", enqueue_start=False
        )
        return run.id


async def next_event(stream: AsyncGenerator[dict[str, str], None]) -> tuple[str, dict[str, Any]]:
    event = await asyncio.wait_for(anext(stream), GUARD_S)
    return event["event"], json.loads(event["data"])


async def test_a_change_committed_on_another_connection_reaches_the_open_stream(
    ctx: AppContext, tenant: Tenant
) -> None:
    run_id = await new_run(ctx, tenant)
    stream = service.run_events(ctx, tenant.workspace_id, run_id)
    try:
        kind, first = await next_event(stream)
        assert (kind, first["status"], first["step"]) == ("progress", "running", None)

        recorder = RunRecorder(ctx.db)  # its own transactions, on other connections of the pool
        await recorder.step_started(run_id, "analyse")
        kind, started = await next_event(stream)
        assert kind == "progress" and started["step"]["step"] == "analyse" and started["step"]["status"] == "running"

        await recorder.settled(run_id, "waiting", waiting_for="approve_stories")
        kind, waiting = await next_event(stream)
        assert (kind, waiting["status"], waiting["waiting_for"]) == ("progress", "waiting", "approve_stories")

        await recorder.settled(run_id, "completed")
        kind, done = await next_event(stream)
        assert kind == "completed" and done["status"] == "completed"
        with pytest.raises(StopAsyncIteration):
            await anext(stream)
    finally:
        await stream.aclose()


async def test_a_lost_listening_connection_wakes_the_stream_and_listens_again(ctx: AppContext, tenant: Tenant) -> None:
    run_id = await new_run(ctx, tenant)
    stream = service.run_events(ctx, tenant.workspace_id, run_id)
    recorder = RunRecorder(ctx.db)
    try:
        await next_event(stream)
        listener = notifications(ctx.extras, ctx.db.url)
        lost_pid = listener._conn.get_server_pid()
        async with ctx.db.session() as session:  # a change without a notice, then the listening connection is cut
            await session.execute(
                text("UPDATE crew_runs SET detail = 'unheard', updated_at = now() WHERE id = :id"), {"id": run_id}
            )
        async with ctx.db.session() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost_pid})
        kind, woken = await next_event(stream)  # the loss wakes the stream: it reads what it may have missed
        assert (kind, woken["detail"]) == ("progress", "unheard")

        await recorder.step_started(run_id, "analyse")  # its notice is lost too: the stream reconnects, and reads
        kind, started = await next_event(stream)
        assert kind == "progress" and started["step"]["step"] == "analyse"
        assert listener.listening and listener._conn.get_server_pid() != lost_pid

        await recorder.settled(run_id, "completed")  # made while the stream listens again: only its notice wakes it
        kind, _ = await next_event(stream)
        assert kind == "completed"
    finally:
        await stream.aclose()


_WRITER = """
import asyncio, sys, uuid
from pathlib import Path
from pydantic import SecretStr
from opsdesk.core.settings import Settings
from opsdesk.crew.flow.record import RunRecorder
from opsdesk.db.engine import Database

async def main() -> None:
    url, data_dir = SecretStr(sys.argv[1]), Path(sys.argv[2])
    db = Database(Settings(_env_file=None, env="test", database_url=url, data_dir=data_dir))
    await db.connect(migrate=False)
    await RunRecorder(db).settled(uuid.UUID(sys.argv[3]), "waiting", waiting_for="approve_stories")
    await db.close()

asyncio.run(main())
"""


@pytest.mark.slow
async def test_a_change_made_by_another_process_reaches_the_open_stream(ctx: AppContext, tenant: Tenant) -> None:
    run_id = await new_run(ctx, tenant)
    stream = service.run_events(ctx, tenant.workspace_id, run_id)
    try:
        await next_event(stream)
        url = ctx.settings.database_url.get_secret_value()  # type: ignore[union-attr]
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _WRITER,
            url,
            str(ctx.settings.data_dir),
            str(run_id),
            cwd=ROOT,
            env={**os.environ, "OPSDESK_LOG_LEVEL": "WARNING"},
            stderr=subprocess.PIPE,
        )
        _, errors = await writer.communicate()
        assert writer.returncode == 0, errors.decode()
        kind, waiting = await next_event(stream)
        assert (kind, waiting["status"], waiting["waiting_for"]) == ("progress", "waiting", "approve_stories")
    finally:
        await stream.aclose()
