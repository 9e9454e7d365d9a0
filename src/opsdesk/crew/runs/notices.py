"""A run's change notice: sent in the transaction that changes the run's row, it wakes the run's event streams in
every API process at commit (``service.run_events``)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.db.notify import notify

CHANNEL = "opsdesk_crew_runs"


async def notify_changed(session: AsyncSession, run_id: uuid.UUID) -> None:
    """Wakes the run's event streams when the session's transaction commits (not at all if it rolls back)."""
    await notify(session, CHANNEL, str(run_id))
