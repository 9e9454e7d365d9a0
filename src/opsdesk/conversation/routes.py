"""Conversation API: chat messages (JSON or SSE), the WhatsApp webhook, sessions, messages, the operator inbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Header, Query
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import Paging, get_ctx, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.conversation import escalation as inbox
from opsdesk.conversation import service
from opsdesk.conversation.channels import from_chat, from_whatsapp, whatsapp_send_body
from opsdesk.conversation.handlers import EscalationRequest
from opsdesk.conversation.models import ConversationMessage, ConversationSession, Escalation
from opsdesk.conversation.runtime import handle_turn, stream_turn
from opsdesk.conversation.schemas import (
    NO_NUL,
    AssignIn,
    ChatMessageIn,
    EscalateIn,
    EscalationOut,
    MessageOut,
    NoteIn,
    PurgeOut,
    SessionOut,
    SlaCheckOut,
    TurnOut,
    WhatsAppReplyOut,
    WhatsAppWebhook,
    WhatsAppWebhookOut,
)
from opsdesk.core.errors import PermissionDenied
from opsdesk.core.masking import mask_text

router = APIRouter(prefix="/api/v1/workspaces/{workspace}", tags=["conversation"])
can_read = require_in_workspace(Permission.read)
can_write = require_in_workspace(Permission.write)
can_manage = require_in_workspace(Permission.manage)
session_dep = Depends(get_session, scope="function")


@router.post(
    "/conversations/messages",
    response_model=TurnOut,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when `stream` is true."}},
)
async def post_message(
    body: ChatMessageIn,
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
    idempotency_key: str | None = Header(default=None, max_length=200),
) -> TurnOut | EventSourceResponse:
    """The reply to one chat message; `stream` sends `received`, `intent`, `delta`…, `reply`, `done` events."""
    settings = ctx.settings
    inbound = from_chat(
        body,
        solution=settings.conversation_default_solution,
        max_chars=settings.conversation_max_message_chars,
        idempotency_key=idempotency_key,
    )
    if body.stream:
        return EventSourceResponse(stream_turn(ctx, principal.workspace_id, inbound), ping=15)
    return await handle_turn(ctx, principal.workspace_id, inbound)


@router.post("/channels/whatsapp/webhook", response_model=WhatsAppWebhookOut)
async def whatsapp_webhook(
    payload: WhatsAppWebhook,
    solution: str | None = Query(default=None, max_length=50, pattern=NO_NUL),
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
) -> WhatsAppWebhookOut:
    """WhatsApp-shaped messages relayed with an API key; each gets its reply in the response (once per message id).

    Meta itself calls the signed, per-workspace webhook in `conversation/whatsapp` (docs/whatsapp.md)."""
    if principal.kind != "api_key":
        raise PermissionDenied("The WhatsApp webhook takes an API key, not a user token.", code="api_key_required")
    replies = []
    for inbound in from_whatsapp(payload, solution=solution or ctx.settings.conversation_default_solution):
        turn = await handle_turn(ctx, principal.workspace_id, inbound)
        send = whatsapp_send_body(inbound.sender, turn.reply)
        replies.append(
            WhatsAppReplyOut(
                message_id=inbound.external_id or "", to=inbound.sender, duplicate=turn.duplicate, turn=turn, send=send
            )
        )
    return WhatsAppWebhookOut(replies=replies)


@router.get("/conversations/sessions", response_model=Page[SessionOut])
async def list_sessions(
    channel: Literal["chat", "whatsapp", "voice"] | None = None,
    status: Literal["open", "escalated", "closed"] | None = None,
    sender: str | None = Query(default=None, max_length=128, pattern=NO_NUL),
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[SessionOut]:
    rows, total = await service.list_sessions(
        session,
        principal.workspace_id,
        channel=channel,
        status=status,
        sender=sender,
        limit=asked.limit,
        offset=asked.offset,
    )
    return asked.page([session_out(row, principal) for row in rows], total)


@router.get("/conversations/sessions/{session_id}", response_model=SessionOut)
async def get_conversation(
    session_id: uuid.UUID, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> SessionOut:
    return session_out(await service.get_session(session, principal.workspace_id, session_id), principal)


@router.get("/conversations/sessions/{session_id}/messages", response_model=Page[MessageOut])
async def list_messages(
    session_id: uuid.UUID,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[MessageOut]:
    rows, total = await service.list_messages(
        session, principal.workspace_id, session_id, limit=asked.limit, offset=asked.offset
    )
    return asked.page([message_out(row, principal) for row in rows], total)


@router.post("/conversations/sessions/{session_id}/close", response_model=SessionOut)
async def close_conversation(
    session_id: uuid.UUID, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> SessionOut:
    return session_out(await service.close_session(session, principal.workspace_id, session_id), principal)


@router.post("/conversations/sessions/{session_id}/escalate", response_model=EscalationOut, status_code=201)
async def escalate_conversation(
    session_id: uuid.UUID,
    body: EscalateIn,
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = session_dep,
) -> EscalationOut:
    conversation = await service.session_by_id(session, principal.workspace_id, session_id, for_update=True)
    request = EscalationRequest(body.reason, body.level, body.complaint, body.amount)
    return escalation_out(await inbox.create_escalation(session, ctx.settings, conversation, request))


@router.post("/conversations/purge", response_model=PurgeOut)
async def purge_messages(
    principal: Principal = Depends(can_manage), ctx: AppContext = Depends(get_ctx), session: AsyncSession = session_dep
) -> PurgeOut:
    """Applies the retention setting to this workspace now (it also runs as a periodic task)."""
    days = ctx.settings.message_retention_days
    result = await service.purge_old_messages(session, days, workspace_id=principal.workspace_id)
    return PurgeOut(deleted_messages=result.messages, deleted_cache_entries=result.cache_entries, retention_days=days)


@router.get("/inbox/escalations", response_model=Page[EscalationOut])
async def list_inbox(
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    level: Literal["ai", "staff", "manager", "director"] | None = None,
    complaint: bool | None = None,
    assignee: str | None = Query(default=None, max_length=200, pattern=NO_NUL),
    overdue: bool | None = None,
    session_id: uuid.UUID | None = None,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    ctx: AppContext = Depends(get_ctx),
) -> Page[EscalationOut]:
    """Escalations, earliest SLA first; overdue cases are moved up a level before the list is read."""
    async with ctx.db.session() as session:
        await inbox.check_sla(session, ctx.settings, workspace_id=principal.workspace_id)
    async with ctx.db.session() as session:
        rows, total = await inbox.list_escalations(
            session,
            principal.workspace_id,
            status=status,
            level=level,
            complaint=complaint,
            assignee=assignee,
            overdue=overdue,
            session_id=session_id,
            limit=asked.limit,
            offset=asked.offset,
        )
    return asked.page([escalation_out(row) for row in rows], total)


@router.get("/inbox/escalations/{escalation_id}", response_model=EscalationOut)
async def get_inbox_item(
    escalation_id: uuid.UUID, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> EscalationOut:
    return escalation_out(await inbox.get_escalation(session, principal.workspace_id, escalation_id))


@router.post("/inbox/escalations/{escalation_id}/acknowledge", response_model=EscalationOut)
async def acknowledge(
    escalation_id: uuid.UUID,
    body: NoteIn,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> EscalationOut:
    found = await inbox.acknowledge(session, principal.workspace_id, escalation_id, by=_who(principal), note=body.note)
    return escalation_out(found)


@router.post("/inbox/escalations/{escalation_id}/assign", response_model=EscalationOut)
async def assign(
    escalation_id: uuid.UUID,
    body: AssignIn,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> EscalationOut:
    found = await inbox.assign(
        session, principal.workspace_id, escalation_id, assignee=body.assignee, by=_who(principal), note=body.note
    )
    return escalation_out(found)


@router.post("/inbox/escalations/{escalation_id}/resolve", response_model=EscalationOut)
async def resolve(
    escalation_id: uuid.UUID,
    body: NoteIn,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> EscalationOut:
    found = await inbox.resolve(session, principal.workspace_id, escalation_id, by=_who(principal), note=body.note)
    return escalation_out(found)


@router.post("/inbox/sla-check", response_model=SlaCheckOut)
async def sla_check(
    principal: Principal = Depends(can_write), ctx: AppContext = Depends(get_ctx), session: AsyncSession = session_dep
) -> SlaCheckOut:
    changed = await inbox.check_sla(session, ctx.settings, workspace_id=principal.workspace_id)
    breached = sum(1 for item in changed if item.breached)
    return SlaCheckOut(bumped=len(changed) - breached, breached=breached)


# ------------------------------------------------------------------------------------------- views


def _who(principal: Principal) -> str:
    return f"{principal.kind}:{principal.subject_id}"


def session_out(row: ConversationSession, principal: Principal) -> SessionOut:
    sender = row.sender if principal.can(Permission.write) else mask_text(row.sender)
    return SessionOut(
        id=row.id,
        channel=row.channel,
        sender=sender,
        sender_name=row.sender_name,
        solution=row.solution,
        status=row.status,
        state=dict(row.state or {}),
        last_intent=row.last_intent,
        last_activity_at=row.last_activity_at,
        created_at=row.created_at,
        closed_at=row.closed_at,
    )


def message_out(row: ConversationMessage, principal: Principal) -> MessageOut:
    text = row.text if principal.can(Permission.write) else row.masked_text
    return MessageOut(
        id=row.id,
        session_id=row.session_id,
        direction=row.direction,
        text=text,  # type: ignore[arg-type]
        masked_text=row.masked_text,
        intent=row.intent,
        status=row.status,
        external_id=row.external_id,
        reply_to_id=row.reply_to_id,
        metadata=dict(row.meta or {}),
        created_at=row.created_at,
    )


def escalation_out(row: Escalation) -> EscalationOut:
    overdue = row.status != "resolved" and row.sla_due_at < datetime.now(UTC)
    return EscalationOut(
        id=row.id,
        session_id=row.session_id,
        message_id=row.message_id,
        level=row.level,
        reason=row.reason,
        complaint=row.complaint,
        amount=row.amount,
        sla_due_at=row.sla_due_at,
        overdue=overdue,
        breached=row.breached,
        status=row.status,
        assignee=row.assignee,
        notes=list(row.notes or []),
        history=list(row.history or []),
        created_at=row.created_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
    )
