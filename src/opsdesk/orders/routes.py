"""Order desk API: inbound messages, orders (list, filter, get, confirm, change, cancel, dispatch, deliver),
their delivery order (xlsx) and invoice (pdf), and retrying pending invoices. The catalog is in catalog/routes.py,
delivery lists (a date range in one workbook, the workspace's own template) in delivery/routes.py."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import Paging, get_ctx, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.orders import billing, posting, profile, repository, service
from opsdesk.orders.catalog.routes import router as catalog_router
from opsdesk.orders.catalog.service import parser_cache
from opsdesk.orders.chat import runtime
from opsdesk.orders.chat.handlers import handle_order_message
from opsdesk.orders.chat.solution import register_order_desk
from opsdesk.orders.delivery.routes import router as delivery_list_router
from opsdesk.orders.schemas import (
    CancelIn,
    ChangeIn,
    ConfirmIn,
    InboundMessageIn,
    OrderOut,
    OrderReplyOut,
    OrderStatus,
    RetryReport,
)
from opsdesk.workspaces.settings.service import workspace_settings

PREFIX = "/api/v1/workspaces/{workspace}/orders"
can_read = require_in_workspace(Permission.read)
can_write = require_in_workspace(Permission.write)
session_dep = Depends(get_session, scope="function")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter()
_orders = APIRouter(prefix=PREFIX, tags=["orders"])


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def _out(ctx: AppContext, principal: Principal, ref: Any) -> OrderOut:
    async with ctx.db.session() as session:
        return await repository.order_out(session, await repository.get_order(session, principal.workspace_id, ref))


@_orders.post("/messages", response_model=OrderReplyOut)
async def post_message(
    workspace: str,
    body: InboundMessageIn,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
) -> OrderReplyOut:
    """A customer message for the order desk; the same message id (or Idempotency-Key) is answered once."""
    reply = await handle_order_message(
        ctx,
        principal.workspace_id,
        body.session_id,
        body.sender_phone,
        body.text,
        message_id=body.message_id or idempotency_key,
    )
    return OrderReplyOut.model_validate(reply.to_json())


@_orders.get("", response_model=Page[OrderOut])
async def list_orders(
    workspace: str,
    asked: Paging = Depends(paging),
    status: list[OrderStatus] | None = Query(default=None),
    outlet: str | None = Query(default=None, max_length=64),
    urgent: bool | None = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
    q: str | None = Query(default=None, max_length=200),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[OrderOut]:
    """Newest first; filter by status (repeatable), outlet code, urgency, delivery dates or number/outlet text."""
    orders, total = await repository.list_orders(
        session,
        principal.workspace_id,
        limit=asked.limit,
        offset=asked.offset,
        status=[s.value for s in status] if status else None,
        outlet=outlet,
        urgent=urgent,
        delivery_from=delivery_from,
        delivery_to=delivery_to,
        q=q,
    )
    return asked.page(await repository.orders_out(session, orders), total)


@_orders.post("/invoices/retry", response_model=RetryReport)
async def retry_invoices(
    workspace: str,
    include_failed: bool = False,
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
) -> RetryReport:
    """Posts this workspace's pending invoices now (and, with include_failed, the refused ones again)."""
    outcomes = await posting.retry_pending_invoices(
        ctx, workspace_id=principal.workspace_id, force=True, include_failed=include_failed
    )
    return RetryReport(
        attempted=len(outcomes),
        posted=sum(o.status == "posted" for o in outcomes),
        still_pending=sum(o.status == "pending" for o in outcomes),
        failed=sum(o.status == "failed" for o in outcomes),
    )


@_orders.get("/{order}", response_model=OrderOut)
async def get_order(
    workspace: str, order: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> OrderOut:
    """An order by id or number (ORD-YYYYMMDD-NNNNN)."""
    return await repository.order_out(session, await repository.get_order(session, principal.workspace_id, order))


@_orders.post("/{order}/confirm", response_model=OrderOut)
async def confirm_order(
    workspace: str,
    order: str,
    body: ConfirmIn,
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
) -> OrderOut:
    """Confirms for the customer; unusual orders need acknowledge_anomalies. Documents follow at once."""
    order_id = await runtime.confirm_by_staff(
        ctx, principal.workspace_id, order, acknowledge_anomalies=body.acknowledge_anomalies
    )
    return await _out(ctx, principal, order_id)


@_orders.post("/{order}/change", response_model=OrderOut)
async def change_order(
    workspace: str,
    order: str,
    body: ChangeIn,
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = session_dep,
) -> OrderOut:
    """Sets line quantities (0 removes a line) until dispatch; unusual results need acknowledge_anomalies."""
    parser = await parser_cache(ctx.extras).parser(session, principal.workspace_id)
    changed = await service.change_order(
        session,
        principal.workspace_id,
        order,
        [(line.sku, line.quantity) for line in body.lines],
        catalog=parser.catalog,
        policy=await profile.policy_for(ctx, principal.workspace_id),
        acknowledge_anomalies=body.acknowledge_anomalies,
    )
    return await repository.order_out(session, changed)


@_orders.post("/{order}/cancel", response_model=OrderOut)
async def cancel_order(
    workspace: str,
    order: str,
    body: CancelIn,
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
) -> OrderOut:
    """Cancels an order that has not been dispatched (409 afterwards)."""
    order_id = await runtime.cancel_by_staff(ctx, principal.workspace_id, order, reason=body.reason)
    return await _out(ctx, principal, order_id)


@_orders.post("/{order}/dispatch", response_model=OrderOut)
async def dispatch_order(
    workspace: str, order: str, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> OrderOut:
    """Marks a confirmed order as dispatched; from now on it cannot be changed or cancelled."""
    return await repository.order_out(session, await service.mark_dispatched(session, principal.workspace_id, order))


@_orders.post("/{order}/deliver", response_model=OrderOut)
async def deliver_order(
    workspace: str, order: str, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> OrderOut:
    return await repository.order_out(session, await service.mark_delivered(session, principal.workspace_id, order))


@_orders.get("/{order}/delivery-order.xlsx", response_class=Response)
async def download_delivery_order(
    workspace: str,
    order: str,
    principal: Principal = Depends(can_read),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = session_dep,
) -> Response:
    """The delivery order as an Excel workbook."""
    found = await repository.get_order(session, principal.workspace_id, order)
    issuer = (await workspace_settings(ctx, principal.workspace_id)).seller.name
    name, data = billing.delivery_order_xlsx(await billing.delivery_order_of(session, found), issuer)
    return Response(data, media_type=_XLSX, headers=_attachment(name))


@_orders.get("/{order}/invoice.pdf", response_class=Response)
async def download_invoice(
    workspace: str,
    order: str,
    principal: Principal = Depends(can_read),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = session_dep,
) -> Response:
    """The invoice as PDF."""
    found = await repository.get_order(session, principal.workspace_id, order)
    seller = await profile.seller_for(ctx, session, principal.workspace_id)
    name, data = billing.invoice_pdf(await billing.invoice_of(session, found), seller)
    return Response(data, media_type="application/pdf", headers=_attachment(name))


router.include_router(_orders)
router.include_router(catalog_router)
router.include_router(delivery_list_router)
# The app includes this router, so wherever the API runs the conversation runtime knows the order desk too.
register_order_desk()
