"""WhatsApp Cloud API: Meta's public webhook (verified by token, then by signature) and the admin's connection API."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import Paging, get_ctx, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.conversation.whatsapp import service
from opsdesk.conversation.whatsapp.models import WhatsAppChannel, WhatsAppInbound
from opsdesk.conversation.whatsapp.schemas import (
    WebhookAck,
    WhatsAppConfigIn,
    WhatsAppConfigOut,
    WhatsAppInboundOut,
)
from opsdesk.conversation.whatsapp.tasks import worker

webhook_router = APIRouter(prefix="/api/v1/channels/whatsapp", tags=["whatsapp"])
router = APIRouter(prefix="/api/v1/workspaces/{workspace}/channels/whatsapp", tags=["whatsapp"])
can_manage = require_in_workspace(Permission.manage)
session_dep = Depends(get_session, scope="function")
_WORKSPACE = Path(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9-]+$", description="The workspace's slug or id.")
_PRINTABLE = r"^[\x20-\x7e]*$"


@webhook_router.get("/{workspace_ref}/webhook", response_class=PlainTextResponse)
async def verify_webhook(
    workspace_ref: str = _WORKSPACE,
    mode: str | None = Query(default=None, alias="hub.mode", max_length=50, pattern=_PRINTABLE),
    token: str | None = Query(default=None, alias="hub.verify_token", max_length=200, pattern=_PRINTABLE),
    challenge: str | None = Query(default=None, alias="hub.challenge", max_length=200, pattern=_PRINTABLE),
    session: AsyncSession = session_dep,
) -> PlainTextResponse:
    """Meta's verification of the callback URL: `hub.challenge` back as text when the verify token matches."""
    answer = await service.verify_subscription(session, workspace_ref, mode=mode, token=token, challenge=challenge)
    return PlainTextResponse(answer, headers={"X-Content-Type-Options": "nosniff"})


@webhook_router.post("/{workspace_ref}/webhook", response_model=WebhookAck)
async def receive_webhook(
    request: Request,
    workspace_ref: str = _WORKSPACE,
    signature: str | None = Header(default=None, alias="X-Hub-Signature-256", max_length=200),
    ctx: AppContext = Depends(get_ctx),
) -> WebhookAck:
    """Meta's deliveries, signed with the app secret: new customer messages are stored, then answered."""
    body = await request.body()
    async with ctx.db.session() as session:
        channel = await service.signed_channel(session, workspace_ref, body, signature)
        accepted = await service.enqueue(session, channel, service.parse_webhook(body))
    worker(ctx).kick(accepted.queued)  # only after the commit: what Meta is told it delivered is stored
    return WebhookAck(queued=len(accepted.queued), duplicates=accepted.duplicates, ignored=accepted.ignored)


@router.get("/config", response_model=WhatsAppConfigOut)
async def get_config(
    principal: Principal = Depends(can_manage), session: AsyncSession = session_dep
) -> WhatsAppConfigOut:
    """The connected number (secrets shown only as set or not)."""
    return config_out(await service.get_channel(session, principal.workspace_id), principal)


@router.put("/config", response_model=WhatsAppConfigOut)
async def put_config(
    body: WhatsAppConfigIn,
    response: Response,
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
) -> WhatsAppConfigOut:
    """Connects a WhatsApp Business number, or changes the connection (201 when new)."""
    channel, created = await service.put_channel(session, principal.workspace_id, body)
    response.status_code = 201 if created else 200
    return config_out(channel, principal)


@router.delete("/config", status_code=204)
async def delete_config(principal: Principal = Depends(can_manage), session: AsyncSession = session_dep) -> Response:
    """Disconnects the number; its webhook answers 404 from now on."""
    await service.delete_channel(session, principal.workspace_id)
    return Response(status_code=204)


@router.get("/messages", response_model=Page[WhatsAppInboundOut])
async def list_messages(
    status: Literal["queued", "sent", "failed"] | None = None,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
) -> Page[WhatsAppInboundOut]:
    """Acknowledged messages and their replies, newest first: `failed` ones say why."""
    rows, total = await service.list_inbound(
        session, principal.workspace_id, status=status, limit=asked.limit, offset=asked.offset
    )
    return asked.page([inbound_out(row) for row in rows], total)


def config_out(channel: WhatsAppChannel, principal: Principal) -> WhatsAppConfigOut:
    return WhatsAppConfigOut(
        workspace=principal.workspace_slug,
        phone_number_id=channel.phone_number_id,
        access_token_set=bool(channel.access_token),
        app_secret_set=bool(channel.app_secret),
        verify_token=channel.verify_token,
        graph_base_url=channel.graph_base_url,
        api_version=channel.api_version,
        solution=channel.solution,
        webhook_path=f"{webhook_router.prefix}/{principal.workspace_slug}/webhook",
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def inbound_out(row: WhatsAppInbound) -> WhatsAppInboundOut:
    return WhatsAppInboundOut(
        id=row.id,
        message_id=row.message_id,
        sender=row.sender,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "queued" else None,
        reply=row.reply,
        reply_message_ids=list(row.reply_message_ids or []),
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
