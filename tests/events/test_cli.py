"""`opsdesk events status|retry-dead`, run as an operator runs them: a subprocess against a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.events import registry
from opsdesk.events.models import OutboxEvent
from opsdesk.events.schemas import Event
from opsdesk.events.service import consumption, publish
from opsdesk.events.worker import relay_pending


def _opsdesk(args: list[str], database_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPSDESK_")},
        "OPSDESK_DATABASE_URL": database_url,
        "OPSDESK_DATA_DIR": str(data_dir),
        "OPSDESK_SECRET_KEY": "cli-test-secret-key-long-enough-for-hs256",
        "OPSDESK_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "opsdesk.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # a fresh interpreter per command
async def test_status_shows_the_backlog_and_dead_events_and_retry_dead_hands_them_back(
    ctx: AppContext, database_url: str, tmp_path: Path
) -> None:
    async def refuse(session: AsyncSession, event: Event) -> None:
        raise RuntimeError("the handler has a bug")

    registry.subscribe(["call.ended"], refuse, queue="test.cli", max_attempts=1)
    async with ctx.db.session() as session:
        dead_id = await publish(session, "call.ended", {"call": 1})
    await relay_pending(ctx)
    async with ctx.db.session() as session:
        await publish(session, "call.ended", {"call": 2})  # not relayed yet

    shown = _opsdesk(["events", "status"], database_url, tmp_path)
    retried = _opsdesk(["events", "retry-dead", "test.cli"], database_url, tmp_path)

    assert shown.returncode == 0, shown.stderr
    assert "1 events waiting for in-process subscribers" in shown.stdout
    row = next(line for line in shown.stdout.splitlines() if "test.cli" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")] == ["test.cli", "0", "0", "1"]
    assert retried.returncode == 0, retried.stderr
    assert "1 dead events of test.cli will be handled again" in retried.stdout
    record = await consumption(ctx.db, "test.cli", dead_id)
    assert record is not None and record.status == "failed" and record.attempts == 0


@pytest.mark.slow  # a fresh interpreter
async def test_the_worker_process_relays_the_outbox(ctx: AppContext, database_url: str, tmp_path: Path) -> None:
    async with ctx.db.session() as session:
        event_id = await publish(session, "order.confirmed", {"number": "ORD-1"}, key="order:1")

    ran = _opsdesk(["worker", "--until-idle"], database_url, tmp_path)

    assert ran.returncode == 0, ran.stderr
    async with ctx.db.session() as session:
        row = await session.get(OutboxEvent, event_id)
    assert row is not None and row.published_at is not None and row.attempts == 1
