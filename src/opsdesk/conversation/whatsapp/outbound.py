"""What staff write to a WhatsApp customer from the operator inbox: queued as a job in the transaction that stores
the message, sent through the Graph API by any worker, part by part, each part once.

A message's status says where it is: `queued` until every part went out, then `sent`; `failed` with the reason in
its metadata when WhatsApp refused it for good (most often: more than 24 hours since the customer last wrote, when
only a template message may be sent) or the retries ran out.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.conversation.models import ConversationMessage, ConversationSession
from opsdesk.conversation.schemas import WhatsAppStatus
from opsdesk.conversation.whatsapp.client import GraphClient, GraphError, GraphTarget, split_text
from opsdesk.conversation.whatsapp.models import WhatsAppChannel
from opsdesk.core.logging import get_logger
from opsdesk.core.masking import mask_text
from opsdesk.jobs import service as jobs
from opsdesk.jobs.registry import JobFailed, JobRun
from opsdesk.providers.llm.base import UpstreamError

_log = get_logger(__name__)
TASK = "conversation.whatsapp_staff_message"
OUTSIDE_WINDOW = 131047  # Graph: "Re-engagement message": more than 24 hours since the customer's last message


async def queue_staff_message(session: AsyncSession, message: ConversationMessage) -> None:
    """Marks the stored message `queued` and enqueues its sending, in the caller's transaction."""
    message.status = "queued"
    await jobs.enqueue(
        session,
        TASK,
        {"message_id": str(message.id)},
        workspace_id=message.workspace_id,
        dedupe_key=f"staff-message:{message.id}",
    )


async def send_staff_message(ctx: AppContext, client: GraphClient, job: JobRun) -> dict[str, Any]:
    """Sends the parts not sent yet; a retryable failure raises (the job layer tries again with backoff)."""
    message_id = uuid.UUID(str(job.payload["message_id"]))
    async with ctx.db.session() as session:
        message = await session.get(ConversationMessage, message_id)
        conversation = await session.get(ConversationSession, message.session_id) if message else None
        channel = await session.get(WhatsAppChannel, message.workspace_id) if message else None
    if message is None or conversation is None:
        raise JobFailed("The message is gone (deleted with its conversation, or by the retention).")
    if message.status == "sent":
        return {"parts": int(message.meta.get("parts_sent", 0)), "already_sent": True}
    if channel is None:
        await _failed(ctx, message_id, "No WhatsApp number is connected to this workspace any more.")
    assert channel is not None
    target = GraphTarget(channel.graph_base_url, channel.api_version, channel.phone_number_id, channel.access_token)
    parts = split_text(message.text)
    sent = int(message.meta.get("parts_sent", 0))
    for index in range(sent, len(parts)):
        try:
            wamid = await client.send_text(target, conversation.sender, parts[index])
        except UpstreamError as exc:
            if (exc.retryable or exc.outcome == "breaker_open") and not job.last_attempt:
                raise
            await _failed(ctx, message_id, _reason(exc))
        await _part_sent(ctx, message_id, index + 1, wamid)
    await _set(ctx, message_id, status="sent")
    _log.info("whatsapp_staff_message_sent", message=str(message_id), to=mask_text(conversation.sender))
    return {"parts": len(parts)}


_WINDOW_CLOSED = (
    "WhatsApp refused it: the customer last wrote more than 24 hours ago, and then only an approved template message "
    "may be sent. Ask them to write first, or call them."
)


def _reason(exc: UpstreamError) -> str:
    if isinstance(exc, GraphError) and exc.code == OUTSIDE_WINDOW:
        return _WINDOW_CLOSED
    return f"WhatsApp did not take it: {exc}"


async def staff_message_statuses(session: AsyncSession, workspace_id: uuid.UUID, statuses: list[WhatsAppStatus]) -> int:
    """Marks staff messages `failed` when WhatsApp reports so afterwards (it accepts a send, then reports, e.g., the
    closed 24-hour window in a status callback); other statuses change nothing. Returns how many were marked."""
    marked = 0
    for status in statuses:
        if status.status != "failed":
            continue
        message = await session.scalar(
            select(ConversationMessage)
            .where(
                ConversationMessage.workspace_id == workspace_id,
                ConversationMessage.direction == "out",
                ConversationMessage.meta["whatsapp_ids"].contains([status.id]),
            )
            .with_for_update()
        )
        if message is None:
            continue
        first = status.errors[0] if status.errors else None
        if first is not None and first.code == OUTSIDE_WINDOW:
            reason = _WINDOW_CLOSED
        else:
            detail = (first.message or first.title) if first else None
            reason = f"WhatsApp could not deliver it{f' (code {first.code})' if first and first.code else ''}" + (
                f": {detail}" if detail else "."
            )
        message.status = "failed"
        message.meta = {**message.meta, "send_error": reason}
        marked += 1
    return marked


async def _failed(ctx: AppContext, message_id: uuid.UUID, reason: str) -> None:
    await _set(ctx, message_id, status="failed", error=reason)
    _log.warning("whatsapp_staff_message_failed", message=str(message_id), error=reason)
    raise JobFailed(reason)


async def _part_sent(ctx: AppContext, message_id: uuid.UUID, parts_sent: int, wamid: str) -> None:
    async with ctx.db.session() as session:
        message = await session.get(ConversationMessage, message_id, with_for_update=True)
        if message is not None:
            ids = [*message.meta.get("whatsapp_ids", []), wamid]
            message.meta = {**message.meta, "parts_sent": parts_sent, "whatsapp_ids": ids}


async def _set(ctx: AppContext, message_id: uuid.UUID, *, status: str, error: str | None = None) -> None:
    async with ctx.db.session() as session:
        message = await session.get(ConversationMessage, message_id, with_for_update=True)
        if message is not None:
            message.status = status
            if error is not None:
                message.meta = {**message.meta, "send_error": error}
