"""`Idempotency-Key` for creating endpoints: the same key and body replay the first response."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint, Uuid, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from opsdesk.core.errors import Conflict, InvalidInput
from opsdesk.db.base import Base, IdMixin, TimestampMixin


class IdempotencyRecord(IdMixin, TimestampMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("workspace_id", "route", "key", name="uq_idempotency_scope"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    route: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[bytes] = mapped_column(LargeBinary)


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise InvalidInput("Idempotency-Key must be 1-200 printable characters.")


async def run_idempotent(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    route: str,
    key: str | None,
    request: Any,
    create: Callable[[], Awaitable[Any]],
    status_code: int = 201,
) -> Any:
    """Runs `create` once per (workspace, route, key); a retry gets the stored JSON response back.

    The record is written in the same transaction as the created object, so either both exist or neither.
    """
    if key is None:
        return await create()
    _check_key(key)
    request_hash = hashlib.sha256(orjson.dumps(request, default=str, option=orjson.OPT_SORT_KEYS)).hexdigest()
    # Two concurrent requests with one key: the second waits here until the first commits, then replays it.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:scope))"), {"scope": f"{workspace_id}:{route}:{key}"}
    )
    existing = await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.workspace_id == workspace_id,
            IdempotencyRecord.route == route,
            IdempotencyRecord.key == key,
        )
    )
    if existing is not None:
        if existing.request_hash != request_hash:
            raise Conflict("This Idempotency-Key was used with a different request body.", code="idempotency_mismatch")
        return orjson.loads(existing.response)
    result = await create()
    payload = result.model_dump(mode="json") if hasattr(result, "model_dump") else result
    statement = insert(IdempotencyRecord).values(
        workspace_id=workspace_id,
        route=route,
        key=key,
        request_hash=request_hash,
        status_code=status_code,
        response=orjson.dumps(payload, default=str),
    )
    await session.execute(statement.on_conflict_do_nothing(constraint="uq_idempotency_scope"))
    return result
