"""WhatsApp Cloud API: a workspace's connection, Meta's webhook (verification, signatures, the durable queue), and
delivering each queued message's reply through the Graph API.

The webhook stores every customer message in `whatsapp_inbound` in the transaction that answers Meta 200 (a
redelivered message id is a no-op), and the reply is made and sent afterwards: at once by the process that received
it, or later by the periodic sweep when that process died or the Graph API was failing. The conversation runtime
answers each WhatsApp message id once (the order desk's own dedupe sits behind it), so a row processed twice after
a crash still makes one order and sends the reply it stored the first time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.auth.models import Workspace
from opsdesk.conversation.channels import Inbound, from_whatsapp
from opsdesk.conversation.handlers import solution_config
from opsdesk.conversation.runtime import handle_turn
from opsdesk.conversation.schemas import (
    WhatsAppChange,
    WhatsAppEntry,
    WhatsAppMessage,
    WhatsAppValue,
    WhatsAppWebhook,
)
from opsdesk.conversation.whatsapp import queue
from opsdesk.conversation.whatsapp.client import GraphClient, GraphTarget, split_text
from opsdesk.conversation.whatsapp.models import WhatsAppChannel, WhatsAppInbound
from opsdesk.conversation.whatsapp.outbound import staff_message_statuses
from opsdesk.conversation.whatsapp.schemas import WhatsAppConfigIn
from opsdesk.core.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    OpsdeskError,
    PayloadTooLarge,
    PermissionDenied,
)
from opsdesk.core.logging import get_logger
from opsdesk.core.masking import mask_text
from opsdesk.db.base import utcnow
from opsdesk.providers.llm.base import UpstreamError

_log = get_logger(__name__)
MAX_WEBHOOK_BYTES = 1_048_576  # text messages are a few kB; Meta batches at most a few hundred updates
MAX_ATTEMPTS = 12
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=30)
# WhatsApp accepts a free-form reply only within 24 hours of the customer's message; later sends are refused.
REPLY_WINDOW = timedelta(hours=24)
IGNORED_TYPES = frozenset({"reaction", "system", "ephemeral"})  # not something a customer expects an answer to

REPLIES = Counter(
    "opsdesk_whatsapp_replies_total",
    "WhatsApp replies by outcome: sent, deferred (to be retried), failed (given up).",
    ["outcome"],
)


# ------------------------------------------------------------------------------------------- the connection


async def get_channel(session: AsyncSession, workspace_id: uuid.UUID) -> WhatsAppChannel:
    channel = await session.get(WhatsAppChannel, workspace_id)
    if channel is None:
        raise NotFound("This workspace has no WhatsApp number connected.", code="whatsapp_not_configured")
    return channel


async def put_channel(
    session: AsyncSession, workspace_id: uuid.UUID, body: WhatsAppConfigIn
) -> tuple[WhatsAppChannel, bool]:
    """Connects a number or updates the connection; returns it and whether it is new."""
    if body.solution is not None:
        solution_config(body.solution)  # a 400 naming the registered solutions
    taken = await session.scalar(
        select(WhatsAppChannel.workspace_id).where(
            WhatsAppChannel.phone_number_id == body.phone_number_id, WhatsAppChannel.workspace_id != workspace_id
        )
    )
    if taken is not None:
        raise Conflict(
            f"Phone number id {body.phone_number_id} is connected to another workspace.", code="phone_number_taken"
        )
    channel = await session.get(WhatsAppChannel, workspace_id, with_for_update=True)
    created = channel is None
    if channel is None:
        if body.access_token is None or body.app_secret is None:
            raise InvalidInput("Connecting a number needs its access_token and the app's app_secret.")
        channel = WhatsAppChannel(workspace_id=workspace_id, created_at=utcnow())
        session.add(channel)
    channel.phone_number_id = body.phone_number_id
    channel.access_token = body.access_token or channel.access_token
    channel.app_secret = body.app_secret or channel.app_secret
    channel.verify_token = body.verify_token or channel.verify_token or secrets.token_urlsafe(24)
    channel.graph_base_url = body.graph_base_url.rstrip("/")
    channel.api_version = body.api_version
    channel.solution = body.solution
    channel.updated_at = utcnow()
    await session.flush()
    _log.info("whatsapp_channel_saved", workspace=str(workspace_id), created=created)
    return channel, created


async def delete_channel(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Disconnects the number; messages still queued are given up (their reply can no longer be sent)."""
    await session.delete(await get_channel(session, workspace_id))
    _log.info("whatsapp_channel_deleted", workspace=str(workspace_id))


async def list_inbound(
    session: AsyncSession, workspace_id: uuid.UUID, *, status: str | None, limit: int, offset: int
) -> tuple[list[WhatsAppInbound], int]:
    """The workspace's acknowledged messages, newest first."""
    where = [WhatsAppInbound.workspace_id == workspace_id]
    if status is not None:
        where.append(WhatsAppInbound.status == status)
    total = await session.scalar(select(func.count()).select_from(WhatsAppInbound).where(*where))
    rows = await session.scalars(
        select(WhatsAppInbound).where(*where).order_by(WhatsAppInbound.created_at.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


# ------------------------------------------------------------------------------------------- the webhook


async def _channel_at(session: AsyncSession, workspace: str) -> WhatsAppChannel | None:
    """The connection of the workspace a webhook path names, by slug or id."""
    query = select(WhatsAppChannel).join(Workspace, Workspace.id == WhatsAppChannel.workspace_id)
    try:
        query = query.where(Workspace.id == uuid.UUID(workspace))
    except ValueError:
        query = query.where(Workspace.slug == workspace)
    channel: WhatsAppChannel | None = await session.scalar(query)
    return channel


async def verify_subscription(
    session: AsyncSession, workspace: str, *, mode: str | None, token: str | None, challenge: str | None
) -> str:
    """Meta's check of the callback URL: the challenge back when the verify token matches; else 403."""
    channel = await _channel_at(session, workspace)
    given = (token or "").encode()
    if (
        channel is None
        or mode != "subscribe"
        or not challenge
        or not hmac.compare_digest(given, channel.verify_token.encode())
    ):
        raise PermissionDenied("The webhook verification failed.", code="verification_failed")
    _log.info("whatsapp_webhook_verified", workspace=str(channel.workspace_id))
    return challenge


async def signed_channel(session: AsyncSession, workspace: str, body: bytes, signature: str | None) -> WhatsAppChannel:
    """The workspace's connection, once the body is proven to be signed with its app secret."""
    if len(body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"The webhook body exceeds {MAX_WEBHOOK_BYTES} bytes.", code="body_too_large")
    channel = await _channel_at(session, workspace)
    if channel is None:
        raise NotFound("No WhatsApp number is connected here.", code="whatsapp_not_configured")
    check_signature(channel.app_secret, body, signature)
    return channel


def check_signature(app_secret: str, body: bytes, header: str | None) -> None:
    """`X-Hub-Signature-256: sha256=<hex>` must be the HMAC-SHA256 of the raw body with the app secret."""
    if not header:
        raise NotAuthenticated("The X-Hub-Signature-256 header is missing.", code="signature_missing")
    scheme, _, digest = header.strip().partition("=")
    if scheme.lower() != "sha256" or not digest:
        raise NotAuthenticated("X-Hub-Signature-256 must be 'sha256=<hex digest>'.", code="signature_malformed")
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(expected, digest.strip().lower().encode()):
        raise PermissionDenied("The X-Hub-Signature-256 signature does not match the body.", code="signature_mismatch")


def parse_webhook(body: bytes) -> WhatsAppWebhook:
    try:
        return WhatsAppWebhook.model_validate(orjson.loads(body))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("The webhook body is not valid JSON.", code="invalid_json") from exc
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidInput(f"Invalid webhook payload at '{where}': {first['msg']}", code="invalid_value") from exc


@dataclass
class Accepted:
    """What one webhook call brought."""

    queued: list[uuid.UUID] = field(default_factory=list)
    duplicates: int = 0
    ignored: int = 0


async def enqueue(session: AsyncSession, channel: WhatsAppChannel, payload: WhatsAppWebhook) -> Accepted:
    """Stores each new customer message of the call (in the caller's transaction); the rest is counted, not kept."""
    accepted = Accepted()
    if payload.object not in (None, "whatsapp_business_account"):
        accepted.ignored = len(payload.entry)
        return accepted
    for entry in payload.entry:
        for change in entry.changes:
            value = change.value
            number = value.metadata.phone_number_id if value.metadata else None
            if not value.messages:
                accepted.ignored += 1  # status callbacks (sent, delivered, read, failed) and other fields
                if number in (None, channel.phone_number_id):
                    await staff_message_statuses(session, channel.workspace_id, value.statuses)
                continue
            if number is not None and number != channel.phone_number_id:
                _log.warning("whatsapp_other_number", workspace=str(channel.workspace_id), messages=len(value.messages))
                accepted.ignored += len(value.messages)
                continue
            for message in value.messages:
                if message.type in IGNORED_TYPES:
                    accepted.ignored += 1
                    continue
                row_id = await _store(session, channel, value, message)
                if row_id is None:
                    accepted.duplicates += 1
                else:
                    accepted.queued.append(row_id)
    if accepted.duplicates:
        _log.info("whatsapp_redelivered", workspace=str(channel.workspace_id), messages=accepted.duplicates)
    return accepted


def _without_nul(value: Any) -> Any:
    """The same JSON value with every NUL character taken out of its strings (keys too)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


async def _store(
    session: AsyncSession, channel: WhatsAppChannel, value: WhatsAppValue, message: WhatsAppMessage
) -> uuid.UUID | None:
    """The new row's id, or None when this message id was stored before."""
    one = {
        "messaging_product": "whatsapp",
        "metadata": value.metadata.model_dump(exclude_none=True) if value.metadata else None,
        "contacts": [c.model_dump(exclude_none=True) for c in value.contacts if c.wa_id == message.from_][:1],
        "messages": [message.model_dump(by_alias=True, exclude_none=True)],
    }
    one = _without_nul(one)  # PostgreSQL's JSONB cannot hold U+0000; the customer's message must not be lost for it
    statement = (
        insert(WhatsAppInbound)
        .values(
            id=uuid.uuid4(),
            workspace_id=channel.workspace_id,
            message_id=message.id,
            phone_number_id=channel.phone_number_id,
            sender=message.from_,
            value=one,
            status="queued",
            attempts=0,
            next_attempt_at=utcnow(),
            parts_sent=0,
            reply_message_ids=[],
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "message_id"])
        .returning(WhatsAppInbound.id)
    )
    row_id: uuid.UUID | None = await session.scalar(statement)
    return row_id


# ------------------------------------------------------------------------------------------- delivery


def inbound_of(row: WhatsAppInbound, solution: str) -> Inbound:
    """The stored message as the conversation runtime takes it (the same conversion as every WhatsApp message)."""
    value = WhatsAppValue.model_validate(row.value)
    (inbound,) = from_whatsapp(
        WhatsAppWebhook(entry=[WhatsAppEntry(changes=[WhatsAppChange(value=value)])]), solution=solution
    )
    return inbound


def target_of(channel: WhatsAppChannel) -> GraphTarget:
    return GraphTarget(channel.graph_base_url, channel.api_version, channel.phone_number_id, channel.access_token)


async def deliver(ctx: AppContext, client: GraphClient, lease: queue.Lease, *, now: datetime | None = None) -> str:
    """Answers one claimed message and sends the reply; returns "sent", "deferred" or "failed"."""
    now = now or utcnow()
    row = await queue.load(ctx.db, lease)
    async with ctx.db.session() as session:
        channel = await session.get(WhatsAppChannel, row.workspace_id)
    if channel is None or channel.phone_number_id != row.phone_number_id:
        return await _give_up(ctx, lease, row, "The WhatsApp number was disconnected before the reply was sent.", now)
    reply = row.reply
    if reply is None:
        solution = channel.solution or ctx.settings.conversation_default_solution
        try:
            turn = await handle_turn(ctx, row.workspace_id, inbound_of(row, solution))
        except OpsdeskError as exc:  # refused for good: an unknown solution, a message id reused for other text
            return await _give_up(ctx, lease, row, f"The message could not be answered: {exc.message}", now)
        except Exception as exc:  # the runtime already escalates handler failures; this is the plumbing failing
            _log.exception("whatsapp_turn_failed", message_id=row.message_id)
            return await _later(ctx, lease, row, f"Answering failed ({type(exc).__name__}).", now)
        if turn.status == "processing":  # another worker is still answering this message id
            return await _later(ctx, lease, row, "The message is still being answered.", now)
        reply = turn.reply
        await queue.save_reply(ctx.db, lease, reply)
    parts = split_text(reply)
    target = target_of(channel)
    for index in range(row.parts_sent, len(parts)):
        try:
            sent_id = await client.send_text(target, row.sender, parts[index])
        except UpstreamError as exc:
            if exc.retryable or exc.outcome == "breaker_open":
                return await _later(ctx, lease, row, str(exc), now, retry_after_s=exc.retry_after_s)
            return await _give_up(ctx, lease, row, str(exc), now)
        await queue.part_sent(ctx.db, lease, index + 1, sent_id)
    await queue.finish(ctx.db, lease, now=utcnow())
    REPLIES.labels("sent").inc()
    _log.info("whatsapp_reply_sent", message_id=row.message_id, to=mask_text(row.sender), parts=len(parts))
    return "sent"


async def _later(
    ctx: AppContext,
    lease: queue.Lease,
    row: WhatsAppInbound,
    error: str,
    now: datetime,
    *,
    retry_after_s: float | None = None,
) -> str:
    """Back to the queue with a growing wait, unless the attempts or WhatsApp's reply window are used up."""
    if lease.attempt >= MAX_ATTEMPTS or now - row.created_at >= REPLY_WINDOW:
        return await _give_up(ctx, lease, row, f"Gave up after {lease.attempt} attempts: {error}", now)
    wait = min(RETRY_FIRST * 2 ** (lease.attempt - 1), RETRY_MAX)
    if retry_after_s is not None:
        wait = max(wait, timedelta(seconds=retry_after_s))
    await queue.defer(ctx.db, lease, error, at=now + wait)
    REPLIES.labels("deferred").inc()
    _log.warning(
        "whatsapp_reply_deferred",
        message_id=row.message_id,
        attempt=lease.attempt,
        retry_in_s=round(wait.total_seconds()),
        error=error,
    )
    return "deferred"


async def _give_up(ctx: AppContext, lease: queue.Lease, row: WhatsAppInbound, error: str, now: datetime) -> str:
    await queue.fail(ctx.db, lease, error, now=now)
    REPLIES.labels("failed").inc()
    _log.error("whatsapp_reply_failed", message_id=row.message_id, to=mask_text(row.sender), error=error)
    return "failed"
