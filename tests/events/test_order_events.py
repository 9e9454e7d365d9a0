"""The order desk publishes its business events through the bus, in the transaction of the state change:
`order.confirmed` then `invoice.posted` when staff confirm an order, `order.cancelled` when they cancel one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Role
from opsdesk.events import registry
from opsdesk.events.models import OutboxEvent
from opsdesk.events.schemas import Event
from opsdesk.events.worker import relay_pending
from opsdesk.orders.chat.handlers import OrderReply, handle_order_message
from tests.orders.order_helpers import FORM_ORDER, FORM_TOTAL, TAMPINES_PHONE, Desk, open_desk


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    async with open_desk(database_url, tmp_path) as opened:
        yield opened


async def _draft(desk: Desk, session_id: str, text: str = FORM_ORDER) -> OrderReply:
    reply = await handle_order_message(desk.ctx, desk.workspace_id, session_id, TAMPINES_PHONE, text)
    assert reply.awaiting == "confirmation", reply.reply
    return reply


async def _events(desk: Desk) -> list[OutboxEvent]:
    async with desk.ctx.db.session() as session:
        return list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))


async def test_an_order_confirmed_through_the_api_publishes_order_confirmed_then_invoice_posted(desk: Desk) -> None:
    draft = await _draft(desk, "s1")
    received: list[Event] = []

    async def collect(session: AsyncSession, event: Event) -> None:
        received.append(event)

    registry.subscribe(["order.*", "invoice.*"], collect, queue="test.order-desk")
    async with desk.client() as http:
        path = desk.url(f"/orders/{draft.order_number}/confirm")
        confirmed = await http.post(path, json={}, headers=desk.tenant.headers(Role.operator))
        again = await http.post(path, json={}, headers=desk.tenant.headers(Role.operator))
    await relay_pending(desk.ctx)

    assert confirmed.status_code == 200 and again.status_code == 200, confirmed.text
    order_id = confirmed.json()["id"]
    assert [e.type for e in received] == ["order.confirmed", "invoice.posted"]  # confirming twice: one event
    order_event, invoice_event = received
    assert order_event.key == invoice_event.key == f"order:{order_id}"
    assert order_event.workspace_id == desk.workspace_id
    assert order_event.payload["number"] == draft.order_number and order_event.payload["total"] == FORM_TOTAL
    assert order_event.payload["status"] == "confirmed" and order_event.payload["outlet_code"] == "SR-TM"
    assert invoice_event.payload["order_id"] == order_id and invoice_event.payload["total"] == FORM_TOTAL
    assert TAMPINES_PHONE not in order_event.to_json().decode()  # no personal data in events


async def test_a_cancelled_order_publishes_order_cancelled_and_a_refused_confirm_publishes_nothing(
    desk: Desk,
) -> None:
    draft = await _draft(desk, "s1")
    unusual = await _draft(desk, "s2", "Outlet: Slice Republic Tampines\nliners: 250 packs")
    async with desk.client() as http:
        headers = desk.tenant.headers(Role.operator)
        cancelled = await http.post(
            desk.url(f"/orders/{draft.order_number}/cancel"), json={"reason": "customer called"}, headers=headers
        )
        refused = await http.post(desk.url(f"/orders/{unusual.order_number}/confirm"), json={}, headers=headers)

    assert cancelled.status_code == 200 and refused.status_code == 409
    events = await _events(desk)
    assert [e.event_type for e in events] == ["order.cancelled"]
    assert events[0].payload["reason"] == "customer called" and events[0].payload["number"] == draft.order_number
