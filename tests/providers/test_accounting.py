"""Call accounting: Prometheus metrics at once, ProviderCall rows in batches, and never an error to the caller."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from opsdesk.core.settings import Settings
from opsdesk.db.engine import Database
from opsdesk.providers.accounting import CallRecord, CallRecorder, cost_usd
from opsdesk.providers.models import ProviderCall


def record(provider: str, outcome: str = "ok", **fields: object) -> CallRecord:
    return CallRecord(provider=provider, model="m", operation="chat", outcome=outcome, **fields)  # type: ignore[arg-type]


def dropped() -> float:
    return REGISTRY.get_sample_value("opsdesk_provider_records_dropped_total") or 0.0


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    await database.connect(migrate=False)
    yield database
    await database.close()


async def count_rows(db: Database, provider: str) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).where(ProviderCall.provider == provider)) or 0)


def test_cost_is_priced_per_million_tokens() -> None:
    assert cost_usd(1_000_000, 500_000, 0.15, 0.60) == pytest.approx(0.45)


def test_metrics_are_counted_when_the_call_is_recorded() -> None:
    recorder = CallRecorder(None)
    provider = "acct-" + uuid.uuid4().hex[:6]

    recorder.record(record(provider, tokens_in=10, tokens_out=5, cost_usd=0.25, latency_ms=120))
    recorder.record(record(provider, outcome="timeout", latency_ms=5000))

    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"provider": provider, "model": "m", **labels})

    assert sample("opsdesk_provider_calls_total", operation="chat", outcome="ok") == 1
    assert sample("opsdesk_provider_calls_total", operation="chat", outcome="timeout") == 1
    assert sample("opsdesk_provider_tokens_total", direction="in") == 10
    assert sample("opsdesk_provider_tokens_total", direction="out") == 5
    assert sample("opsdesk_provider_cost_usd_total") == 0.25
    assert sample("opsdesk_provider_latency_seconds_sum", operation="chat") == pytest.approx(5.12)
    assert recorder.pending == 0  # no database, nothing queued


async def test_flush_writes_every_recorded_call(db: Database) -> None:
    recorder = CallRecorder(db, batch_size=3)
    workspace = uuid.uuid4()
    for _ in range(7):
        recorder.record(record("flushed", tokens_in=4, workspace_id=workspace, error=None))

    await recorder.flush()

    assert await count_rows(db, "flushed") == 7
    async with db.session() as session:
        row = (await session.scalars(select(ProviderCall).where(ProviderCall.provider == "flushed"))).first()
    assert row is not None and row.workspace_id == workspace and row.tokens_in == 4 and row.outcome == "ok"


async def test_the_background_writer_writes_without_being_asked(db: Database) -> None:
    recorder = CallRecorder(db, batch_size=100, flush_interval_s=0.05)
    await recorder.start()
    recorder.record(record("background", outcome="error", error="HTTP 500"))

    for _ in range(100):
        if await count_rows(db, "background") == 1:
            break
        await asyncio.sleep(0.02)

    assert await count_rows(db, "background") == 1
    await recorder.aclose()


async def test_aclose_writes_what_is_left(db: Database) -> None:
    recorder = CallRecorder(db, flush_interval_s=60)
    await recorder.start()
    for _ in range(3):
        recorder.record(record("leftover"))

    await recorder.aclose()

    assert await count_rows(db, "leftover") == 3


async def test_a_database_failure_is_logged_not_raised(settings: Settings) -> None:
    recorder = CallRecorder(Database(settings))  # never connected: every write fails
    before = dropped()
    recorder.record(record("nodb"))
    recorder.record(record("nodb"))

    await recorder.flush()

    assert recorder.pending == 0
    assert dropped() == before + 2


def test_the_queue_is_bounded(settings: Settings) -> None:
    recorder = CallRecorder(Database(settings), max_pending=2)
    before = dropped()

    for _ in range(5):
        recorder.record(record("bounded"))

    assert recorder.pending == 2
    assert dropped() == before + 3
