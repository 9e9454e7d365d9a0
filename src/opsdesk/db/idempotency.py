"""`Idempotency-Key` for creating endpoints: the same key and body replay the first response.

A response that carries a secret (a field annotated `Annotated[str, SECRET]`, such as a new API key) is never
stored: the record keeps the response without its secrets, and a replay answers 409
`idempotent_secret_not_replayable` with those other fields (the id, to revoke it), because a secret shown twice is a
secret stored somewhere.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel
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


class _Secret:
    """The marker of a response field that holds a secret: `Annotated[str, SECRET]`."""

    def __repr__(self) -> str:
        return "SECRET"


SECRET = _Secret()
# The status a record of a response with secrets keeps: what its replay answers.
_SECRET_WITHHELD = 409


def secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of the fields of `model` marked SECRET."""
    return frozenset(name for name, field in model.model_fields.items() if SECRET in field.metadata)


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
        if existing.status_code == _SECRET_WITHHELD:
            raise Conflict(
                "This request was done already, and its response held a secret that is shown only once. "
                "If it was lost, revoke what was created (see details) and create another with a new Idempotency-Key.",
                code="idempotent_secret_not_replayable",
                details=orjson.loads(existing.response),
            )
        return orjson.loads(existing.response)
    result = await create()
    payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    secrets = secret_fields(type(result)) if isinstance(result, BaseModel) else frozenset()
    if secrets:
        payload = {name: value for name, value in payload.items() if name not in secrets}
        status_code = _SECRET_WITHHELD
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
