"""Delivering queued WhatsApp replies: at once after the webhook answered, and in the periodic sweep.

The webhook hands the ids it stored to `kick`, which answers them in a task of this process (in the order they
came, so a customer's "YES" follows their order). Whatever that does not finish (the process died, the Graph API
failed) stays queued in PostgreSQL; `run_once`, called by the conversation maintenance loop, sends what is due and
drops finished rows past the message retention.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from opsdesk.app.context import AppContext
from opsdesk.conversation.whatsapp import queue
from opsdesk.conversation.whatsapp.client import GraphClient, SendPolicy
from opsdesk.conversation.whatsapp.service import deliver
from opsdesk.core.logging import get_logger
from opsdesk.db.base import utcnow

_log = get_logger(__name__)
_KEY = "conversation.whatsapp"
SWEEP_LIMIT = 200  # rows per sweep; the next sweep takes the rest
REDELIVERY_HORIZON = timedelta(days=7)  # how long Meta keeps retrying an unacknowledged webhook


class WhatsAppWorker:
    """This process's Graph client and the deliveries it is running."""

    def __init__(self, ctx: AppContext, policy: SendPolicy) -> None:
        self._ctx = ctx
        self.client = GraphClient(policy)
        self._running: set[asyncio.Task[None]] = set()

    def kick(self, row_ids: list[uuid.UUID]) -> None:
        """Delivers these freshly stored rows now, in order, without holding up the webhook's answer."""
        if not row_ids:
            return
        task = asyncio.create_task(self._deliver_each(row_ids), name="whatsapp-deliver")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def idle(self) -> None:
        """Waits until the deliveries started by `kick` have finished."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def run_due(self, *, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> dict[str, int]:
        """Delivers queued rows that are due (one at a time); returns how many ended in each outcome."""
        outcomes: dict[str, int] = {}
        for _ in range(limit):
            lease = await queue.claim(self._ctx.db, now=now)
            if lease is None:
                break
            outcome = await self._deliver(lease, now)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    async def aclose(self) -> None:
        """Stops running deliveries (their rows stay claimed until the lease runs out) and closes the client."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*list(self._running), return_exceptions=True)
        await self.client.aclose()

    async def _deliver_each(self, row_ids: list[uuid.UUID]) -> None:
        for row_id in row_ids:
            lease = await queue.claim(self._ctx.db, row_id=row_id)
            if lease is not None:
                await self._deliver(lease, None)

    async def _deliver(self, lease: queue.Lease, now: datetime | None) -> str:
        try:
            return await deliver(self._ctx, self.client, lease, now=now)
        except queue.LeaseLost:
            _log.warning("whatsapp_lease_lost", row=str(lease.row_id))
            return "lost"
        except Exception:  # the row stays queued; its lease runs out and the sweep tries again
            _log.exception("whatsapp_delivery_crashed", row=str(lease.row_id))
            return "crashed"


def worker(ctx: AppContext) -> WhatsAppWorker:
    """This process's worker (created on first use)."""
    found = ctx.extras.get(_KEY)
    if isinstance(found, WhatsAppWorker):
        return found
    created = ctx.extras[_KEY] = WhatsAppWorker(ctx, SendPolicy())
    return created


async def use_policy(ctx: AppContext, policy: SendPolicy) -> WhatsAppWorker:
    """Replaces this process's worker with one that sends under `policy` (timeouts, retries, breaker)."""
    old = ctx.extras.pop(_KEY, None)
    if isinstance(old, WhatsAppWorker):
        await old.aclose()
    created = ctx.extras[_KEY] = WhatsAppWorker(ctx, policy)
    return created


async def run_once(ctx: AppContext, *, now: datetime | None = None, purge: bool = True) -> dict[str, int]:
    """Sends the replies that are due; with `purge`, deletes finished rows past the message retention (0 keeps all)."""
    outcomes = await worker(ctx).run_due(now=now)
    purged = 0
    if purge and ctx.settings.message_retention_days > 0:
        # Never sooner than Meta stops redelivering: a purged message id would be answered again.
        keep = max(timedelta(days=ctx.settings.message_retention_days), REDELIVERY_HORIZON)
        purged = await queue.purge(ctx.db, before=(now or utcnow()) - keep)
    if outcomes or purged:
        _log.info("whatsapp_sweep", purged=purged, **outcomes)
    return outcomes
