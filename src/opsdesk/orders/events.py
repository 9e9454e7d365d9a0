"""The order desk's business events, published through the event bus in the transaction of the state change."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.events.service import publish
from opsdesk.orders.models import Invoice, Order


def _order(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "number": order.number,
        "status": order.status,
        "outlet_code": order.outlet_code,
        "outlet_name": order.outlet_name,
        "urgent": order.urgent,
        "currency": order.currency,
        "subtotal": order.subtotal,
        "tax": order.tax,
        "total": order.total,
        "delivery_date": order.delivery_date,
        "delivery_slot": order.delivery_slot,
        "revision": order.revision,
    }


async def order_confirmed(session: AsyncSession, order: Order) -> None:
    payload = {**_order(order), "confirmed_at": order.confirmed_at}
    await publish(session, "order.confirmed", payload, workspace_id=order.workspace_id, key=f"order:{order.id}")


async def order_cancelled(session: AsyncSession, order: Order) -> None:
    payload = {**_order(order), "cancelled_at": order.cancelled_at, "reason": order.cancel_reason}
    await publish(session, "order.cancelled", payload, workspace_id=order.workspace_id, key=f"order:{order.id}")


async def invoice_posted(session: AsyncSession, invoice: Invoice) -> None:
    payload = {
        "invoice_id": invoice.id,
        "number": invoice.number,
        "order_id": invoice.order_id,
        "backend": invoice.backend,
        "external_id": invoice.external_id,
        "currency": invoice.currency,
        "subtotal": invoice.subtotal,
        "tax": invoice.tax,
        "total": invoice.total,
        "posted_at": invoice.posted_at,
    }
    # Keyed by the order: a consumer sees order.confirmed before its invoice.posted.
    key = f"order:{invoice.order_id}"
    await publish(session, "invoice.posted", payload, workspace_id=invoice.workspace_id, key=key)
