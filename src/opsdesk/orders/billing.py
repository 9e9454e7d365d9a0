"""Delivery orders and invoices of confirmed orders: created once per order, kept in step with changes, rendered.

``ensure_delivery_order`` and ``ensure_invoice`` lock the order row and return what exists before numbering
anything, so a flow step that runs twice (a retry, a resumed process) never makes a second document.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict, NotFound
from opsdesk.core.logging import get_logger
from opsdesk.orders.counters import next_document_number
from opsdesk.orders.documents import (
    ContactData,
    DeliveryLine,
    DeliveryOrderData,
    DocumentKind,
    InvoiceData,
    InvoiceLine,
    SellerData,
    render_delivery_order,
    render_invoice_pdf,
)
from opsdesk.orders.models import DeliveryOrder, Invoice, Order, OrderLine, Outlet
from opsdesk.orders.policy import OrderPolicy

log = get_logger(__name__)


def contact_for(order: Order, outlet: Outlet | None) -> ContactData:
    """The billing entity of the outlet (the outlet itself when it has none)."""
    if outlet is None:
        return ContactData(name=order.outlet_name, account_number=order.outlet_code)
    return ContactData(
        name=outlet.billing_entity or outlet.name,
        address_lines=tuple(part.strip() for part in outlet.address.split(",") if part.strip()),
        email=outlet.email,
        phone=outlet.phones[0] if outlet.phones else "",
        account_number=outlet.code,
    )


def delivery_data(number: str, order: Order, outlet: Outlet | None, lines: Sequence[OrderLine]) -> DeliveryOrderData:
    if order.delivery_date is None:
        raise Conflict(f"Order {order.number} has no delivery date.", code="no_delivery_date")
    remark = "; ".join(line.note for line in lines if line.derived and line.note)
    return DeliveryOrderData(
        number=number,
        delivery_date=order.delivery_date,
        outlet_name=order.outlet_name,
        billing_entity=outlet.billing_entity if outlet else "",
        delivery_address=outlet.address if outlet else "",
        # A catalog unit (bundle, pack, carton) ships as one packed piece, so cartons equal the quantity.
        lines=tuple(
            DeliveryLine(line.sku, line.description, line.quantity, line.unit, line.quantity) for line in lines
        ),
        slot=order.delivery_slot,
        remark=remark,
        urgent=order.urgent,
        order_reference=order.number,
    )


def invoice_data(
    number: str,
    order: Order,
    outlet: Outlet | None,
    lines: Sequence[OrderLine],
    delivery_number: str,
    policy: OrderPolicy,
    issued: datetime,
) -> InvoiceData:
    charged = [line for line in lines if line.charged]
    return InvoiceData(
        number=number,
        issue_date=policy.local_now(issued).date(),
        bill_to=contact_for(order, outlet),
        lines=tuple(
            InvoiceLine(line.sku, line.description, Decimal(line.quantity), line.unit_price, line.unit)
            for line in charged
        ),
        terms_days=policy.payment_terms_days,
        tax_rate=order.tax_rate,
        tax_label=policy.tax_label,
        currency=order.currency,
        delivery_order_number=delivery_number,
    )


async def _lines_and_outlet(session: AsyncSession, order: Order) -> tuple[list[OrderLine], Outlet | None]:
    lines = list(
        await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no))
    )
    outlet = await session.get(Outlet, order.outlet_id) if order.outlet_id else None
    return lines, outlet


async def _locked(session: AsyncSession, order_id: uuid.UUID) -> Order:
    order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None:
        raise NotFound(f"No order {order_id}.", code="order_not_found")
    return order


async def ensure_delivery_order(
    session: AsyncSession, order_id: uuid.UUID, policy: OrderPolicy, now: datetime
) -> DeliveryOrder:
    """The order's delivery order, created (and numbered) the first time only."""
    order = await _locked(session, order_id)
    existing = await session.scalar(select(DeliveryOrder).where(DeliveryOrder.order_id == order.id))
    if existing is not None:
        return existing
    if order.status not in ("confirmed", "dispatched", "delivered"):
        raise Conflict(f"Order {order.number} is {order.status}; it has no delivery order.", code="not_confirmed")
    lines, outlet = await _lines_and_outlet(session, order)
    number = await next_document_number(
        session, order.workspace_id, DocumentKind.DELIVERY_ORDER, policy.local_now(now).date()
    )
    data = delivery_data(number, order, outlet, lines)
    delivery = DeliveryOrder(
        workspace_id=order.workspace_id,
        order_id=order.id,
        number=number,
        delivery_date=data.delivery_date,
        slot=data.slot,
        data=data.to_dict(),
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def ensure_invoice(session: AsyncSession, order_id: uuid.UUID, policy: OrderPolicy, now: datetime) -> Invoice:
    """The order's invoice (status pending until posted), created the first time only."""
    order = await _locked(session, order_id)
    existing = await session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    if existing is not None:
        return existing
    delivery = await session.scalar(select(DeliveryOrder).where(DeliveryOrder.order_id == order.id))
    if delivery is None:
        raise Conflict(f"Order {order.number} has no delivery order yet.", code="no_delivery_order")
    lines, outlet = await _lines_and_outlet(session, order)
    number = await next_document_number(session, order.workspace_id, DocumentKind.INVOICE, policy.local_now(now).date())
    data = invoice_data(number, order, outlet, lines, delivery.number, policy, now)
    invoice = Invoice(
        workspace_id=order.workspace_id,
        order_id=order.id,
        number=number,
        status="pending",
        currency=data.currency,
        subtotal=data.subtotal,
        tax=data.tax,
        total=data.total,
        data=data.to_dict(),
        next_attempt_at=now,
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def refuse_if_posted(session: AsyncSession, order: Order) -> None:
    invoice = await session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    if invoice is not None and invoice.status == "posted":
        raise Conflict(
            f"Invoice {invoice.number} of order {order.number} is already posted to accounting; cancel the order "
            "and place a new one instead.",
            code="invoice_posted",
        )


async def refresh_documents(session: AsyncSession, order: Order, lines: Sequence[OrderLine]) -> None:
    """After a change: the delivery order and an unposted invoice show the new lines (numbers stay)."""
    _, outlet = await _lines_and_outlet(session, order)
    delivery = await session.scalar(select(DeliveryOrder).where(DeliveryOrder.order_id == order.id))
    if delivery is not None:
        delivery.data = delivery_data(delivery.number, order, outlet, lines).to_dict()
    invoice = await session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    if invoice is not None and invoice.status != "posted":
        old = InvoiceData.from_dict(invoice.data)
        charged = [line for line in lines if line.charged]
        updated = InvoiceData(
            number=old.number,
            issue_date=old.issue_date,
            due_date=old.due_date,
            terms_days=old.terms_days,
            bill_to=old.bill_to,
            lines=tuple(InvoiceLine(x.sku, x.description, Decimal(x.quantity), x.unit_price, x.unit) for x in charged),
            tax_rate=old.tax_rate,
            tax_label=old.tax_label,
            currency=old.currency,
            delivery_order_number=old.delivery_order_number,
        )
        invoice.data = updated.to_dict()
        invoice.subtotal, invoice.tax, invoice.total = updated.subtotal, updated.tax, updated.total


async def withdraw_invoice(session: AsyncSession, order: Order) -> None:
    """On cancel: a pending invoice is never posted; a posted one is flagged for a credit note."""
    invoice = await session.scalar(select(Invoice).where(Invoice.order_id == order.id).with_for_update())
    if invoice is None:
        return
    if invoice.status in ("pending", "failed"):
        invoice.status = "cancelled"
        invoice.next_attempt_at = None
    elif invoice.status == "posted":
        invoice.last_error = f"order {order.number} was cancelled after posting: issue a credit note"
        log.warning("order_cancelled_after_posting", order=order.number, invoice=invoice.number)


# ---------------------------------------------------------------------------------------------- documents


async def delivery_order_of(session: AsyncSession, order: Order) -> DeliveryOrder:
    found = await session.scalar(select(DeliveryOrder).where(DeliveryOrder.order_id == order.id))
    if found is None:
        message = f"Order {order.number} has no delivery order yet (it is {order.status})."
        raise NotFound(message, code="no_delivery_order")
    return found


async def invoice_of(session: AsyncSession, order: Order) -> Invoice:
    found = await session.scalar(select(Invoice).where(Invoice.order_id == order.id))
    if found is None:
        raise NotFound(f"Order {order.number} has no invoice yet (it is {order.status}).", code="no_invoice")
    return found


def delivery_order_xlsx(delivery: DeliveryOrder, issuer: str) -> tuple[str, bytes]:
    """(file name, .xlsx bytes) in the default layout; ``issuer`` is the workspace's seller name."""
    data = DeliveryOrderData.from_dict(delivery.data)
    return f"{delivery.number}.xlsx", render_delivery_order(data, issuer=issuer)


def invoice_pdf(invoice: Invoice, seller: SellerData) -> tuple[str, bytes]:
    """(file name, PDF bytes) with the workspace's seller identity (profile.seller_for)."""
    return f"{invoice.number}.pdf", render_invoice_pdf(InvoiceData.from_dict(invoice.data), seller)
