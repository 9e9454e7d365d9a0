"""One page of a query's rows and the count of all of them: what every paged list endpoint answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def page(session: AsyncSession, query: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """`limit` rows of `query` (ordered as it is; give it a unique tie-breaker) from `offset`, and how many it has."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = await session.scalars(query.limit(limit).offset(offset))
    return list(rows), int(total or 0)
