"""Token, cost and reliability accounting for every model call: Prometheus at once, database rows in batches."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import insert

from opsdesk.core.logging import get_logger
from opsdesk.db.engine import Database
from opsdesk.providers.models import ProviderCall

log = get_logger(__name__)

# Module level: prometheus_client refuses to register the same metric name twice in one registry.
CALLS = Counter(
    "opsdesk_provider_calls_total", "Model provider call attempts.", ["provider", "model", "operation", "outcome"]
)
LATENCY = Histogram(
    "opsdesk_provider_latency_seconds",
    "Latency of model provider call attempts.",
    ["provider", "model", "operation"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TOKENS = Counter(
    "opsdesk_provider_tokens_total", "Tokens sent to and received from providers.", ["provider", "model", "direction"]
)
COST = Counter("opsdesk_provider_cost_usd_total", "Estimated provider spend in US dollars.", ["provider", "model"])
DROPPED = Counter("opsdesk_provider_records_dropped_total", "Call records not written to the database.")


@dataclass(frozen=True)
class CallRecord:
    """One call attempt, as accounted."""

    provider: str
    model: str
    operation: str  # chat | embed
    outcome: str  # ok | error | timeout | rate_limited | breaker_open
    latency_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    workspace_id: uuid.UUID | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def cost_usd(tokens_in: int, tokens_out: int, input_per_mtok: float, output_per_mtok: float) -> float:
    """Spend for one call from per-million-token prices."""
    return (tokens_in * input_per_mtok + tokens_out * output_per_mtok) / 1_000_000


class CallRecorder:
    """Updates metrics for each call and writes ProviderCall rows from a background task; never raises."""

    def __init__(
        self,
        db: Database | None = None,
        *,
        batch_size: int = 200,
        flush_interval_s: float = 2.0,
        max_pending: int = 10_000,
    ) -> None:
        self._db = db
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._max_pending = max_pending
        self._pending: list[CallRecord] = []
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def record(self, call: CallRecord) -> None:
        """Counts the call in the metrics now and queues its row for the database."""
        CALLS.labels(call.provider, call.model, call.operation, call.outcome).inc()
        LATENCY.labels(call.provider, call.model, call.operation).observe(call.latency_ms / 1000)
        if call.tokens_in:
            TOKENS.labels(call.provider, call.model, "in").inc(call.tokens_in)
        if call.tokens_out:
            TOKENS.labels(call.provider, call.model, "out").inc(call.tokens_out)
        if call.cost_usd:
            COST.labels(call.provider, call.model).inc(call.cost_usd)
        if self._db is None:
            return
        if len(self._pending) >= self._max_pending:
            # The database is slow or down; losing accounting rows beats unbounded memory.
            DROPPED.inc()
            return
        self._pending.append(call)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return len(self._pending)

    async def start(self) -> None:
        """Starts the background writer (no-op without a database or when already running)."""
        if self._db is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="provider-call-writer")

    async def flush(self) -> None:
        """Writes every row recorded so far."""
        async with self._write_lock:
            while self._pending:
                batch = self._pending[: self._batch_size]
                del self._pending[: self._batch_size]
                await self._write(batch)

    async def aclose(self) -> None:
        """Stops the writer and writes what is left."""
        if self._task is not None:
            # Let the writer finish its batch rather than cancelling it half-written.
            self._closing = True
            self._wake.set()
            await self._task
            self._task = None
            self._closing = False
        await self.flush()

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval_s)
            self._wake.clear()
            await self.flush()

    async def _write(self, batch: list[CallRecord]) -> None:
        assert self._db is not None
        try:
            async with self._db.session() as session:
                # One multi-row INSERT from plain dicts: no ORM objects to build and track per call.
                await session.execute(insert(ProviderCall), [_row(call) for call in batch])
        except Exception as exc:
            DROPPED.inc(len(batch))
            log.warning("provider_calls_write_failed", rows=len(batch), error=str(exc))


def _row(call: CallRecord) -> dict[str, Any]:
    return {
        "workspace_id": call.workspace_id,
        "provider": call.provider,
        "model": call.model[:200],
        "operation": call.operation,
        "tokens_in": call.tokens_in,
        "tokens_out": call.tokens_out,
        "latency_ms": call.latency_ms,
        "cost_usd": call.cost_usd,
        "outcome": call.outcome,
        "error": call.error,
        "created_at": call.at,
    }
