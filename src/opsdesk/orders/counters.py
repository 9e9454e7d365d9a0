"""Per-day document sequences (ORD, DO, INV) from one upsert: safe under concurrency, no gaps on rollback."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.orders.documents import DocumentKind, format_number
from opsdesk.orders.models import DocumentCounter

ORDER_PREFIX = "ORD"


async def next_sequence(session: AsyncSession, workspace_id: uuid.UUID, kind: str, day: date) -> int:
    """The next number of ``kind`` on ``day`` in this workspace.

    The row lock taken by the upsert is held until the caller's transaction ends, so concurrent callers queue and
    a rolled-back transaction gives its number back.
    """
    statement = (
        insert(DocumentCounter)
        .values(workspace_id=workspace_id, kind=kind, day=day, last_value=1)
        .on_conflict_do_update(
            index_elements=["workspace_id", "kind", "day"],
            set_={"last_value": DocumentCounter.last_value + 1},
        )
        .returning(DocumentCounter.last_value)
    )
    value = (await session.execute(statement)).scalar_one()
    return int(value)


async def next_order_number(session: AsyncSession, workspace_id: uuid.UUID, day: date) -> str:
    """``ORD-YYYYMMDD-NNNNN``."""
    sequence = await next_sequence(session, workspace_id, ORDER_PREFIX, day)
    return f"{ORDER_PREFIX}-{day:%Y%m%d}-{sequence:05d}"


async def next_document_number(session: AsyncSession, workspace_id: uuid.UUID, kind: DocumentKind, day: date) -> str:
    """``DO-YYYYMMDD-NNNNN`` or ``INV-YYYYMMDD-NNNNN``."""
    return format_number(kind, day, await next_sequence(session, workspace_id, kind.value, day))
