"""Sessions and messages: opening sessions, storing messages once, replies, listing, and the retention purge.

Every function takes the session explicitly and scopes every statement by workspace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.conversation.handlers import HistoryItem
from opsdesk.conversation.models import ConversationMessage, ConversationSession, SemanticCacheEntry
from opsdesk.conversation.whatsapp.outbound import queue_staff_message
from opsdesk.core.errors import Conflict, NotFound
from opsdesk.core.masking import mask_text
from opsdesk.db.base import utcnow
from opsdesk.db.paging import page

RUNTIME_KEY = "_runtime"  # the runtime's own part of the session state (the question a flow waits on)


async def get_session(session: AsyncSession, workspace_id: uuid.UUID, session_id: uuid.UUID) -> ConversationSession:
    found = await session.scalar(
        select(ConversationSession).where(
            ConversationSession.workspace_id == workspace_id, ConversationSession.id == session_id
        )
    )
    if found is None:
        raise NotFound(f"No conversation session {session_id}.")
    return found


async def open_session(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    channel: str,
    sender: str,
    solution: str,
    sender_name: str | None = None,
) -> ConversationSession:
    """The sender's live session on this channel and solution, created when there is none (race-safe)."""
    values = {
        "id": uuid.uuid4(),
        "workspace_id": workspace_id,
        "channel": channel,
        "sender": sender,
        "sender_name": sender_name,
        "solution": solution,
        "state": {},
        "status": "open",
        "last_activity_at": utcnow(),
    }
    statement = insert(ConversationSession).values(**values)
    await session.execute(
        statement.on_conflict_do_nothing(
            index_elements=["workspace_id", "channel", "solution", "sender"],
            # A literal predicate: a bound parameter stops PostgreSQL matching the partial index (generic plans).
            index_where=text("status <> 'closed'"),
        )
    )
    found = await session.scalar(
        select(ConversationSession).where(
            ConversationSession.workspace_id == workspace_id,
            ConversationSession.channel == channel,
            ConversationSession.solution == solution,
            ConversationSession.sender == sender,
            ConversationSession.status != "closed",
        )
    )
    assert found is not None
    return found


async def session_by_id(
    session: AsyncSession, workspace_id: uuid.UUID, session_id: uuid.UUID, *, for_update: bool = False
) -> ConversationSession:
    """A live session of the workspace; 404 when unknown, 409 when closed."""
    query = select(ConversationSession).where(
        ConversationSession.workspace_id == workspace_id, ConversationSession.id == session_id
    )
    found = await session.scalar(query.with_for_update() if for_update else query)
    if found is None:
        raise NotFound(f"No conversation session {session_id}.")
    if found.status == "closed":
        raise Conflict("This conversation is closed; start a new one.", code="session_closed")
    return found


@dataclass(frozen=True)
class Stored:
    message: ConversationMessage
    duplicate: bool  # the same external message was stored before (this is that earlier row)


async def store_inbound(
    session: AsyncSession,
    conversation: ConversationSession,
    *,
    text: str,
    external_id: str | None,
    metadata: dict[str, Any] | None = None,
) -> Stored:
    """Stores an inbound message once per (workspace, channel, external id), claimed for processing."""
    now = utcnow()
    statement = (
        insert(ConversationMessage)
        .values(
            id=uuid.uuid4(),
            workspace_id=conversation.workspace_id,
            session_id=conversation.id,
            channel=conversation.channel,
            direction="in",
            text=text,
            masked_text=mask_text(text),
            meta=metadata or {},
            external_id=external_id,
            status="processing",
            claimed_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(constraint="uq_conversation_messages_external")
        .returning(ConversationMessage.id)
    )
    new_id = await session.scalar(statement)
    if new_id is not None:
        message = await session.get(ConversationMessage, new_id)
        assert message is not None
        return Stored(message, False)
    existing = await session.scalar(
        select(ConversationMessage).where(
            ConversationMessage.workspace_id == conversation.workspace_id,
            ConversationMessage.channel == conversation.channel,
            ConversationMessage.external_id == external_id,
        )
    )
    assert existing is not None
    return Stored(existing, True)


async def reply_of(session: AsyncSession, message: ConversationMessage) -> ConversationMessage | None:
    return await session.scalar(
        select(ConversationMessage)
        .where(ConversationMessage.reply_to_id == message.id, ConversationMessage.direction == "out")
        .order_by(ConversationMessage.created_at)
        .limit(1)
    )


async def reclaim(session: AsyncSession, message_id: uuid.UUID, stale_after: timedelta) -> bool:
    """Takes over an inbound message whose processing failed or whose worker went quiet (True when taken)."""
    now = utcnow()
    result = await session.execute(
        update(ConversationMessage)
        .where(ConversationMessage.id == message_id, ConversationMessage.direction == "in")
        .where(
            (ConversationMessage.status == "failed")
            | ((ConversationMessage.status == "processing") & (ConversationMessage.claimed_at < now - stale_after))
        )
        .values(status="processing", claimed_at=now)
        .returning(ConversationMessage.id)
    )
    return result.scalar() is not None


def _outbound(
    conversation: ConversationSession, text: str, intent: str | None, meta: dict[str, Any]
) -> ConversationMessage:
    return ConversationMessage(
        workspace_id=conversation.workspace_id,
        session_id=conversation.id,
        channel=conversation.channel,
        direction="out",
        text=text,
        masked_text=mask_text(text),
        intent=intent,
        meta=meta,
        status="sent",
    )


async def store_reply(
    session: AsyncSession,
    conversation: ConversationSession,
    inbound: ConversationMessage,
    *,
    text: str,
    intent: str | None,
    metadata: dict[str, Any],
) -> ConversationMessage:
    """Stores the reply and marks the inbound message answered, in the caller's transaction."""
    reply = _outbound(conversation, text, intent, metadata)
    reply.reply_to_id = inbound.id
    session.add(reply)
    await session.execute(
        update(ConversationMessage).where(ConversationMessage.id == inbound.id).values(status="replied", intent=intent)
    )
    await session.flush()
    return reply


async def store_staff_reply(
    session: AsyncSession, conversation: ConversationSession, text: str, by: str
) -> ConversationMessage:
    """A message to the customer written by staff, in the transcript beside the desk's own replies. On WhatsApp it
    is queued for sending in the same transaction (`whatsapp.outbound`); a chat client reads it from the transcript."""
    reply = _outbound(conversation, text, "staff_reply", {"staff": by})
    session.add(reply)
    conversation.last_activity_at = datetime.now(UTC)
    await session.flush()
    if conversation.channel == "whatsapp":
        await queue_staff_message(session, reply)
        await session.flush()
    return reply


async def mark_failed(session: AsyncSession, message_id: uuid.UUID) -> None:
    await session.execute(
        update(ConversationMessage).where(ConversationMessage.id == message_id).values(status="failed")
    )


async def history(
    session: AsyncSession, conversation_id: uuid.UUID, *, before: datetime, limit: int = 6
) -> tuple[HistoryItem, ...]:
    """The last `limit` messages of a session before `before`, oldest first."""
    rows = await session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.session_id == conversation_id, ConversationMessage.created_at < before)
        .order_by(ConversationMessage.created_at.desc())
        .limit(limit)
    )
    return tuple(HistoryItem(row.direction, row.text, row.intent) for row in reversed(list(rows)))


def solution_state(conversation: ConversationSession) -> dict[str, Any]:
    return {key: value for key, value in (conversation.state or {}).items() if key != RUNTIME_KEY}


def expects_of(conversation: ConversationSession) -> str | None:
    runtime = (conversation.state or {}).get(RUNTIME_KEY) or {}
    value = runtime.get("expects")
    return str(value) if value else None


async def list_sessions(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    channel: str | None = None,
    status: str | None = None,
    sender: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ConversationSession], int]:
    query = select(ConversationSession).where(ConversationSession.workspace_id == workspace_id)
    if channel:
        query = query.where(ConversationSession.channel == channel)
    if status:
        query = query.where(ConversationSession.status == status)
    if sender:
        query = query.where(ConversationSession.sender == sender)
    return await page(session, query.order_by(ConversationSession.last_activity_at.desc()), limit, offset)


async def list_messages(
    session: AsyncSession, workspace_id: uuid.UUID, session_id: uuid.UUID, *, limit: int = 50, offset: int = 0
) -> tuple[list[ConversationMessage], int]:
    await get_session(session, workspace_id, session_id)
    query = (
        select(ConversationMessage)
        .where(ConversationMessage.workspace_id == workspace_id, ConversationMessage.session_id == session_id)
        .order_by(ConversationMessage.created_at, ConversationMessage.direction)
    )
    return await page(session, query, limit, offset)


async def close_session(session: AsyncSession, workspace_id: uuid.UUID, session_id: uuid.UUID) -> ConversationSession:
    conversation = await get_session(session, workspace_id, session_id)
    if conversation.status != "closed":
        conversation.status = "closed"
        conversation.closed_at = utcnow()
        await session.flush()
    return conversation


@dataclass(frozen=True)
class PurgeResult:
    messages: int
    cache_entries: int


async def purge_old_messages(
    session: AsyncSession, retention_days: int, *, workspace_id: uuid.UUID | None = None, now: datetime | None = None
) -> PurgeResult:
    """Deletes messages older than the retention period (0 keeps everything) and expired semantic-cache entries."""
    now = now or datetime.now(UTC)
    deleted = 0
    if retention_days > 0:
        cutoff = now - timedelta(days=retention_days)
        # Replies first, so none disappears by cascade uncounted.
        for direction in ("out", "in"):
            statement = delete(ConversationMessage).where(
                ConversationMessage.created_at < cutoff, ConversationMessage.direction == direction
            )
            if workspace_id is not None:
                statement = statement.where(ConversationMessage.workspace_id == workspace_id)
            deleted += len((await session.execute(statement.returning(ConversationMessage.id))).all())
    expired = delete(SemanticCacheEntry).where(SemanticCacheEntry.expires_at < now)
    if workspace_id is not None:
        expired = expired.where(SemanticCacheEntry.workspace_id == workspace_id)
    cache_entries = len((await session.execute(expired.returning(SemanticCacheEntry.id))).all())
    return PurgeResult(deleted, cache_entries)
