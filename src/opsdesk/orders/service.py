"""Orders: price a request, create a draft (once per inbound message), confirm, change, cancel, dispatch, deliver.

Every state change locks the order row first, so the conversation, the API and background work can race safely.
Change and cancel are allowed until dispatch; stock is reserved at confirmation and given back on cancel.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict, InvalidInput
from opsdesk.orders import billing, events
from opsdesk.orders.counters import next_order_number
from opsdesk.orders.models import Order, OrderLine, Outlet, Product
from opsdesk.orders.parsing import Catalog, LineItem
from opsdesk.orders.parsing.rules import derive_items
from opsdesk.orders.policy import (
    Anomaly,
    CatalogItem,
    DeliveryPlan,
    OrderPolicy,
    PricedLine,
    RequestedLine,
    Totals,
    find_anomalies,
    price_lines,
    totals,
)
from opsdesk.orders.repository import (
    CONFIRMED_STATUSES,
    get_order,
    lines_of,
    order_by_message,
    stock_levels,
    usual_quantities,
)


class OrderLocked(Conflict):
    """The order has left the warehouse (or was cancelled): it can no longer be changed or cancelled."""


class AnomalyConfirmationRequired(Conflict):
    """The order has unusual quantities or totals and needs an explicit confirmation."""

    def __init__(self, anomalies: Sequence[dict[str, Any]]) -> None:
        reasons = "; ".join(str(a.get("message", "")) for a in anomalies)
        super().__init__(
            f"This order needs an explicit confirmation: {reasons}. Confirm with acknowledge_anomalies=true.",
            code="anomaly_confirmation_required",
            details={"anomalies": list(anomalies)},
        )


class InsufficientStock(Conflict):
    def __init__(self, shortages: Sequence[tuple[str, int, int]]) -> None:
        text_ = ", ".join(f"{sku}: {wanted} wanted, {left} in stock" for sku, wanted, left in shortages)
        super().__init__(
            f"Not enough stock: {text_}.",
            code="insufficient_stock",
            details={"shortages": [{"sku": s, "wanted": w, "in_stock": left} for s, w, left in shortages]},
        )


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """Everything the flow has worked out before the order is written."""

    workspace_id: uuid.UUID
    message_id: str
    session_id: str
    thread_id: str
    sender_phone: str
    text: str
    outlet: Outlet
    urgent: bool
    lines: Sequence[PricedLine]
    totals: Totals
    plan: DeliveryPlan
    anomalies: Sequence[Anomaly] = ()
    notes: Sequence[str] = field(default_factory=tuple)


# --------------------------------------------------------------------------------------------- pricing


def catalog_items(catalog: Catalog) -> dict[str, CatalogItem]:
    return {p.sku: CatalogItem(p.sku, p.name, p.unit, p.pack_size, p.unit_price) for p in catalog.products}


def price_request(
    catalog: Catalog, items: Iterable[tuple[str, int]], stock: Mapping[str, int] | None = None
) -> list[PricedLine]:
    """Lines for (sku, quantity) pairs plus the derived items the catalog's rules add, at catalog prices.

    With ``stock``, a derived item (a free add-on) is cut to what is in stock rather than holding the order up.
    """
    ordered = [LineItem(sku, quantity, catalog.product(sku).unit, "", 1.0) for sku, quantity in items if quantity > 0]
    requested = [RequestedLine(item.sku, item.quantity) for item in ordered]
    for extra in derive_items(ordered, catalog, catalog.rules):
        quantity, note = extra.quantity, extra.note
        if stock is not None and stock.get(extra.sku, 0) < quantity:
            quantity = max(0, stock.get(extra.sku, 0))
            note = f"{note} Only {quantity} {extra.unit} in stock.".strip()
        if quantity > 0:
            requested.append(RequestedLine(extra.sku, quantity, derived=True, charged=extra.charged, note=note))
    return price_lines(requested, catalog_items(catalog))


# ------------------------------------------------------------------------------------------------ writing


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


async def create_draft(
    session: AsyncSession, draft: DraftOrder, policy: OrderPolicy, now: datetime | None = None
) -> Order:
    """Writes the order awaiting the customer's confirmation; the same inbound message always gives the same order."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
        {"key": f"order-msg:{draft.workspace_id}:{draft.message_id}"},
    )
    existing = await order_by_message(session, draft.workspace_id, draft.message_id)
    if existing is not None:
        return existing
    order = Order(
        workspace_id=draft.workspace_id,
        number=await next_order_number(session, draft.workspace_id, policy.local_now(now).date()),
        outlet_id=draft.outlet.id,
        outlet_code=draft.outlet.code,
        outlet_name=draft.outlet.name,
        status="awaiting_confirmation",
        urgent=draft.urgent,
        source_message_id=draft.message_id,
        session_id=draft.session_id,
        flow_thread_id=draft.thread_id,
        sender_phone=draft.sender_phone[:40],
        message_text=draft.text.strip(),
        currency=policy.currency,
        tax_rate=policy.tax_rate,
        delivery_date=draft.plan.day,
        delivery_slot=draft.plan.slot,
        anomalies=[a.to_dict() for a in draft.anomalies],
        notes=list(draft.notes),
    )
    session.add(order)
    await session.flush()
    await _write_lines(session, order, draft.lines, draft.totals)
    return order


async def _write_lines(session: AsyncSession, order: Order, lines: Sequence[PricedLine], amounts: Totals) -> None:
    await session.execute(delete(OrderLine).where(OrderLine.order_id == order.id))
    for number, line in enumerate(lines, start=1):
        session.add(
            OrderLine(
                order_id=order.id,
                workspace_id=order.workspace_id,
                line_no=number,
                **{k: v for k, v in line.to_dict().items() if k not in ("unit_price", "line_total")},
                unit_price=line.unit_price,
                line_total=line.line_total,
            )
        )
    order.subtotal, order.tax, order.total = amounts.subtotal, amounts.tax, amounts.total
    await session.flush()


async def _move_stock(session: AsyncSession, workspace_id: uuid.UUID, lines: Iterable[OrderLine], sign: int) -> None:
    """sign -1 reserves (and refuses to go below zero), +1 gives stock back."""
    wanted: dict[str, int] = {}
    for line in lines:
        wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    products = {
        p.sku: p
        for p in await session.scalars(
            select(Product)
            .where(Product.workspace_id == workspace_id, Product.sku.in_(list(wanted)))
            .order_by(Product.sku)
            .with_for_update()
        )
    }
    short = [(sku, qty, products[sku].stock if sku in products else 0) for sku, qty in wanted.items()
             if sign < 0 and (sku not in products or products[sku].stock < qty)]  # fmt: skip
    if short:
        raise InsufficientStock(short)
    for sku, quantity in wanted.items():
        if sku in products:
            products[sku].stock += sign * quantity


async def confirm_order(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    ref: str | uuid.UUID,
    *,
    acknowledge_anomalies: bool = False,
    now: datetime | None = None,
) -> Order:
    """awaiting_confirmation → confirmed, reserving stock. Confirming a confirmed order changes nothing."""
    order = await get_order(session, workspace_id, ref, lock=True)
    if order.status in CONFIRMED_STATUSES:
        return order
    if order.status == "cancelled":
        raise OrderLocked(f"Order {order.number} was cancelled; it cannot be confirmed.", code="order_cancelled")
    if order.anomalies and not (acknowledge_anomalies or order.anomalies_acknowledged):
        raise AnomalyConfirmationRequired(order.anomalies)
    await _move_stock(session, workspace_id, await lines_of(session, order.id), -1)
    order.status = "confirmed"
    order.anomalies_acknowledged = bool(order.anomalies)
    order.confirmed_at = _now(now)
    await session.flush()
    await events.order_confirmed(session, order)
    return order


def _refuse_after_dispatch(order: Order, action: str) -> None:
    if order.status in ("dispatched", "delivered"):
        raise OrderLocked(
            f"Order {order.number} was {order.status} already; it can no longer be {action}. "
            "Please contact us to arrange a return or a new order.",
            code="order_dispatched",
        )
    if order.status == "cancelled":
        raise OrderLocked(f"Order {order.number} is cancelled.", code="order_cancelled")


async def cancel_order(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    ref: str | uuid.UUID,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> Order:
    """Cancels an order that has not been dispatched; stock goes back and a pending invoice is withdrawn."""
    order = await get_order(session, workspace_id, ref, lock=True)
    if order.status == "cancelled":
        return order
    _refuse_after_dispatch(order, "cancelled")
    if order.status == "confirmed":
        await _move_stock(session, workspace_id, await lines_of(session, order.id), +1)
    order.status = "cancelled"
    order.cancelled_at = _now(now)
    order.cancel_reason = reason[:500]
    await billing.withdraw_invoice(session, order)
    await session.flush()
    await events.order_cancelled(session, order)
    return order


async def change_order(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    ref: str | uuid.UUID,
    changes: Sequence[tuple[str, int]],
    *,
    catalog: Catalog,
    policy: OrderPolicy,
    acknowledge_anomalies: bool = False,
) -> Order:
    """Sets the quantity of each (sku, quantity) (0 removes it), re-prices and re-checks the order."""
    order = await get_order(session, workspace_id, ref, lock=True)
    _refuse_after_dispatch(order, "changed")
    await billing.refuse_if_posted(session, order)
    current = {line.sku: line.quantity for line in await lines_of(session, order.id) if not line.derived}
    for sku, quantity in changes:
        if not catalog.has_product(sku):
            raise InvalidInput(f"There is no product with SKU '{sku}'.", code="unknown_sku")
        if quantity > 0 and not catalog.product(sku).active:
            raise InvalidInput(f"'{sku}' is no longer sold.", code="inactive_sku")
        current[sku] = quantity
    items = [(sku, qty) for sku, qty in current.items() if qty > 0]
    if not items:
        raise InvalidInput("An order needs at least one line; cancel it instead.", code="empty_order")
    derived_skus = {rule.derived_sku for rule in catalog.rules}
    lines = price_request(catalog, items, await stock_levels(session, workspace_id, derived_skus))
    amounts = totals(lines, order.tax_rate)
    history, others = await usual_quantities(
        session, workspace_id, order.outlet_code, current, policy.anomaly_history_orders, policy.anomaly_min_history
    )
    anomalies = [a.to_dict() for a in find_anomalies(lines, history, amounts.total, policy, others)]
    if anomalies and not acknowledge_anomalies and order.status == "confirmed":
        raise AnomalyConfirmationRequired(anomalies)
    if order.status == "confirmed":
        await _move_stock(session, workspace_id, await lines_of(session, order.id), +1)
    await _write_lines(session, order, lines, amounts)
    if order.status == "confirmed":
        await _move_stock(session, workspace_id, await lines_of(session, order.id), -1)
    order.anomalies = anomalies
    order.anomalies_acknowledged = bool(anomalies) and acknowledge_anomalies
    order.revision += 1
    await billing.refresh_documents(session, order, await lines_of(session, order.id))
    await session.flush()
    return order


async def mark_dispatched(
    session: AsyncSession, workspace_id: uuid.UUID, ref: str | uuid.UUID, *, now: datetime | None = None
) -> Order:
    order = await get_order(session, workspace_id, ref, lock=True)
    if order.status == "dispatched":
        return order
    if order.status != "confirmed":
        raise Conflict(
            f"Order {order.number} is {order.status}; only confirmed orders are dispatched.", code="bad_status"
        )
    order.status, order.dispatched_at = "dispatched", _now(now)
    await session.flush()
    return order


async def mark_delivered(
    session: AsyncSession, workspace_id: uuid.UUID, ref: str | uuid.UUID, *, now: datetime | None = None
) -> Order:
    order = await get_order(session, workspace_id, ref, lock=True)
    if order.status == "delivered":
        return order
    if order.status not in ("confirmed", "dispatched"):
        raise Conflict(f"Order {order.number} is {order.status}; it cannot be delivered.", code="bad_status")
    moment = _now(now)
    order.dispatched_at = order.dispatched_at or moment
    order.status, order.delivered_at = "delivered", moment
    await session.flush()
    return order
