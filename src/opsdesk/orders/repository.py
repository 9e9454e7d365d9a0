"""Queries of the order desk: orders by id, number or inbound message; lists with filters; history and stock."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import NotFound
from opsdesk.orders.models import DeliveryOrder, Invoice, Order, OrderLine, Product
from opsdesk.orders.schemas import DeliveryOrderOut, InvoiceOut, OrderLineOut, OrderOut

OPEN_STATUSES = ("draft", "awaiting_confirmation", "confirmed")
CONFIRMED_STATUSES = ("confirmed", "dispatched", "delivered")


async def get_order(
    session: AsyncSession, workspace_id: uuid.UUID, ref: str | uuid.UUID, *, lock: bool = False
) -> Order:
    """An order by id or number; with ``lock`` the row is locked until the transaction ends."""
    statement = select(Order).where(Order.workspace_id == workspace_id)
    try:
        order_id = ref if isinstance(ref, uuid.UUID) else uuid.UUID(str(ref))
        statement = statement.where(Order.id == order_id)
    except ValueError:
        statement = statement.where(Order.number == str(ref).strip().upper())
    if lock:
        statement = statement.with_for_update()
    order = await session.scalar(statement)
    if order is None:
        raise NotFound(f"No order '{ref}'.", code="order_not_found")
    return order


async def order_by_message(session: AsyncSession, workspace_id: uuid.UUID, message_id: str) -> Order | None:
    return await session.scalar(
        select(Order).where(Order.workspace_id == workspace_id, Order.source_message_id == message_id)
    )


async def lines_of(session: AsyncSession, order_id: uuid.UUID) -> list[OrderLine]:
    rows = await session.scalars(select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no))
    return list(rows)


def _filters(
    workspace_id: uuid.UUID,
    status: Sequence[str] | None,
    outlet: str | None,
    urgent: bool | None,
    delivery_from: date | None,
    delivery_to: date | None,
    q: str | None,
) -> list[Any]:
    where: list[Any] = [Order.workspace_id == workspace_id]
    if status:
        where.append(Order.status.in_(list(status)))
    if outlet:
        where.append(Order.outlet_code == outlet)
    if urgent is not None:
        where.append(Order.urgent.is_(urgent))
    if delivery_from:
        where.append(Order.delivery_date >= delivery_from)
    if delivery_to:
        where.append(Order.delivery_date <= delivery_to)
    if q:
        pattern = f"%{q.strip()}%"
        where.append(or_(Order.number.ilike(pattern), Order.outlet_name.ilike(pattern)))
    return where


async def list_orders(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    limit: int = 50,
    offset: int = 0,
    status: Sequence[str] | None = None,
    outlet: str | None = None,
    urgent: bool | None = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
    q: str | None = None,
) -> tuple[list[Order], int]:
    """Newest first."""
    where = _filters(workspace_id, status, outlet, urgent, delivery_from, delivery_to, q)
    total = await session.scalar(select(func.count()).select_from(Order).where(*where))
    statement = select(Order).where(*where).order_by(Order.created_at.desc(), Order.number.desc())
    rows = await session.scalars(statement.limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def orders_out(session: AsyncSession, orders: Sequence[Order]) -> list[OrderOut]:
    """The API view of orders with their lines, delivery orders and invoices, in three queries for any number."""
    ids = [order.id for order in orders]
    if not ids:
        return []
    lines: dict[uuid.UUID, list[OrderLine]] = {}
    for line in await session.scalars(
        select(OrderLine).where(OrderLine.order_id.in_(ids)).order_by(OrderLine.order_id, OrderLine.line_no)
    ):
        lines.setdefault(line.order_id, []).append(line)
    deliveries = {
        d.order_id: d for d in await session.scalars(select(DeliveryOrder).where(DeliveryOrder.order_id.in_(ids)))
    }
    invoices = {i.order_id: i for i in await session.scalars(select(Invoice).where(Invoice.order_id.in_(ids)))}
    return [_out(order, lines.get(order.id, []), deliveries.get(order.id), invoices.get(order.id)) for order in orders]


async def order_out(session: AsyncSession, order: Order) -> OrderOut:
    """The API view of one order."""
    return (await orders_out(session, [order]))[0]


def _out(order: Order, lines: list[OrderLine], delivery: DeliveryOrder | None, invoice: Invoice | None) -> OrderOut:
    return OrderOut.model_validate(
        {
            **{name: getattr(order, name) for name in OrderOut.model_fields if hasattr(order, name)},
            "lines": [OrderLineOut.model_validate(line, from_attributes=True) for line in lines],
            "delivery_order": DeliveryOrderOut.model_validate(delivery, from_attributes=True) if delivery else None,
            "invoice": InvoiceOut.model_validate(invoice, from_attributes=True) if invoice else None,
        }
    )


async def outlet_history(
    session: AsyncSession, workspace_id: uuid.UUID, outlet_code: str | None, skus: Iterable[str], orders: int
) -> dict[str, list[int]]:
    """Quantities per SKU in the outlet's latest ``orders`` confirmed orders (customer-asked lines only).

    With ``outlet_code`` None: the workspace's latest confirmed orders, all outlets together.
    """
    mine = Order.outlet_code == outlet_code if outlet_code is not None else Order.outlet_code.is_not(None)
    latest = (
        select(Order.id)
        .where(Order.workspace_id == workspace_id, mine, Order.status.in_(CONFIRMED_STATUSES))
        .order_by(Order.confirmed_at.desc())
        .limit(orders)
        .subquery()
    )
    rows = await session.execute(
        select(OrderLine.sku, OrderLine.quantity).where(
            OrderLine.order_id.in_(select(latest.c.id)), OrderLine.sku.in_(list(skus)), OrderLine.derived.is_(False)
        )
    )
    history: dict[str, list[int]] = {}
    for sku, quantity in rows:
        history.setdefault(sku, []).append(int(quantity))
    return history


async def usual_quantities(
    session: AsyncSession, workspace_id: uuid.UUID, outlet_code: str, skus: Iterable[str], orders: int, enough: int
) -> tuple[dict[str, list[int]], frozenset[str]]:
    """What is usual per SKU: the outlet's own history once it has ``enough`` orders of it, else what all outlets
    order (so a tenfold first order is noticed). Also returns the SKUs whose history is the workspace's."""
    wanted = list(skus)
    own = await outlet_history(session, workspace_id, outlet_code, wanted, orders)
    missing = [sku for sku in wanted if len(own.get(sku, ())) < enough]
    if not missing:
        return own, frozenset()
    everyone = await outlet_history(session, workspace_id, None, missing, orders * 5)
    borrowed = {sku: quantities for sku, quantities in everyone.items() if len(quantities) >= enough}
    return {**own, **borrowed}, frozenset(borrowed)


async def open_orders_of_outlet(session: AsyncSession, workspace_id: uuid.UUID, outlet_code: str) -> list[Order]:
    """The outlet's orders that can still change, newest first."""
    rows = await session.scalars(
        select(Order)
        .where(Order.workspace_id == workspace_id, Order.outlet_code == outlet_code, Order.status.in_(OPEN_STATUSES))
        .order_by(Order.created_at.desc())
    )
    return list(rows)


async def stock_levels(session: AsyncSession, workspace_id: uuid.UUID, skus: Iterable[str]) -> dict[str, int]:
    """Stock now (the parser's cached catalog does not follow stock)."""
    rows = await session.execute(
        select(Product.sku, Product.stock).where(Product.workspace_id == workspace_id, Product.sku.in_(list(skus)))
    )
    return {sku: int(stock) for sku, stock in rows}


async def open_orders_of_session(session: AsyncSession, workspace_id: uuid.UUID, session_id: str) -> list[Order]:
    """The orders placed in one conversation that can still change, newest first."""
    rows = await session.scalars(
        select(Order)
        .where(Order.workspace_id == workspace_id, Order.session_id == session_id, Order.status.in_(OPEN_STATUSES))
        .order_by(Order.created_at.desc())
    )
    return list(rows)
