"""Escalations: complaints reach the operator inbox with an SLA; overdue cases move up; money limits; actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.conversation import EscalationRequest, Reply, Turn, register_handler
from opsdesk.conversation import escalation as inbox
from opsdesk.conversation.models import ConversationSession
from tests.conversation.conftest import SOLUTION, ChatApi


async def test_complaint_lands_in_the_inbox_with_an_sla(chat: ChatApi) -> None:
    reply = await chat.said("The boxes you delivered were all wet and crushed, very disappointed")
    assert reply["intent"] == "complaint" and reply["escalation_id"]
    response = await chat.get("/inbox/escalations", complaint="true", status="open")
    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert (item["id"], item["level"], item["complaint"], item["overdue"]) == (
        reply["escalation_id"],
        "staff",
        True,
        False,
    )
    due = datetime.fromisoformat(item["sla_due_at"]) - datetime.fromisoformat(item["created_at"])
    assert timedelta(minutes=59) < due <= timedelta(minutes=61)  # the staff SLA
    session = (await chat.get(f"/conversations/sessions/{reply['session_id']}")).json()
    assert session["status"] == "escalated"


async def test_overdue_escalation_moves_up_a_level(ctx: AppContext, chat: ChatApi) -> None:
    reply = await chat.said("I want to file a complaint about your driver, he was rude")
    later = datetime.now(UTC) + timedelta(minutes=61)
    async with ctx.db.session() as session:
        (bumped,) = await inbox.check_sla(session, ctx.settings, now=later)
        assert (str(bumped.id), bumped.level, bumped.status) == (reply["escalation_id"], "manager", "open")
        assert bumped.sla_due_at == later + timedelta(minutes=ctx.settings.escalation_sla_minutes["manager"])
    async with ctx.db.session() as session:
        assert await inbox.check_sla(session, ctx.settings, now=later) == []  # not overdue at the new level yet
    async with ctx.db.session() as session:
        await inbox.check_sla(session, ctx.settings, now=later + timedelta(hours=5))
        (top,) = await inbox.check_sla(session, ctx.settings, now=later + timedelta(days=3))
        assert (top.level, top.breached) == ("director", True)
        assert [event["event"] for event in top.history] == ["created", "sla_bumped", "sla_bumped", "sla_breached"]


@pytest.mark.parametrize(
    ("amount", "level"),
    [
        (None, "staff"),
        (Decimal(300), "staff"),
        (Decimal(4000), "staff"),
        (Decimal(9000), "manager"),
        (Decimal(75000), "director"),
    ],
)
async def test_money_limits_choose_the_starting_level(
    ctx: AppContext, chat: ChatApi, amount: Decimal | None, level: str
) -> None:
    async def big_order(turn: Turn) -> Reply:
        return Reply("A colleague will confirm this order.", escalate=EscalationRequest("Large order", amount=amount))

    register_handler(SOLUTION, "order_placement", big_order)
    reply = await chat.said("I want to order 900 bundles of 12 inch boxes")
    item = (await chat.get(f"/inbox/escalations/{reply['escalation_id']}")).json()
    assert item["level"] == level


async def test_operator_acknowledges_assigns_and_resolves(ctx: AppContext, chat: ChatApi) -> None:
    reply = await chat.said("you guys keep messing up our orders, unacceptable")
    path = f"/inbox/escalations/{reply['escalation_id']}"
    viewer = ChatApi(chat.http, chat.tenant, Role.viewer)
    assert (await viewer.post(f"{path}/acknowledge", {})).status_code == 403
    acknowledged = await chat.post(f"{path}/acknowledge", {"note": "Calling the outlet now"})
    assert acknowledged.json()["status"] == "acknowledged" and acknowledged.json()["notes"][0]["text"]
    assigned = await chat.post(f"{path}/assign", {"assignee": "mei@distributor.example"})
    assert assigned.json()["assignee"] == "mei@distributor.example"
    resolved = await chat.post(f"{path}/resolve", {"note": "Replaced the cartons"})
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"]
    assert (await chat.post(f"{path}/resolve", {})).status_code == 409
    session = (await chat.get(f"/conversations/sessions/{reply['session_id']}")).json()
    assert session["status"] == "open"
    filtered = (await chat.get("/inbox/escalations", status="resolved", assignee="mei@distributor.example")).json()
    assert filtered["total"] == 1


async def test_operator_can_escalate_a_conversation(ctx: AppContext, chat: ChatApi) -> None:
    reply = await chat.said("hello")
    body = {"reason": "Customer asks for a credit line", "level": "manager", "amount": "12000"}
    created = await chat.post(f"/conversations/sessions/{reply['session_id']}/escalate", body)
    assert created.status_code == 201 and created.json()["level"] == "manager"
    async with ctx.db.session() as session:
        conversation = await session.get(ConversationSession, created.json()["session_id"])
        assert conversation is not None and conversation.status == "escalated"
