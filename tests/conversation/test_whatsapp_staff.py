"""Staff replies from the operator inbox reach a WhatsApp customer through the Graph API: queued with the message,
sent once by a job, retried through Graph's failures, and marked failed with the reason when WhatsApp refuses (at
once, or later in a status callback, as with a closed 24-hour window)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

import opsdesk.conversation.tasks  # noqa: F401  (registers the task, as workers do)
from opsdesk.conversation import service as conversations
from opsdesk.conversation.models import ConversationMessage, ConversationSession
from opsdesk.conversation.whatsapp import outbound
from opsdesk.jobs import registry
from opsdesk.jobs.models import Job
from opsdesk.jobs.worker import run_pending
from tests.conversation.test_whatsapp_cloud import (
    OUTLET,
    Meta,
    delivery,
    graph,
    graph_server,
    meta,
    text_message,
)
from tests.orders.order_helpers import FORM_ORDER

__all__ = ["graph", "graph_server", "meta"]  # the fixtures this module uses
STAFF_TEXT = "Sorry for the wait: your order leaves the warehouse at 2 pm today."


async def _staff_reply(meta: Meta, text: str = STAFF_TEXT) -> uuid.UUID:
    """The customer wrote on WhatsApp; staff answer in the transcript (what the inbox's reply button does)."""
    await meta.delivered(delivery(text_message(f"wamid.{uuid.uuid4().hex[:12]}", FORM_ORDER)))
    async with meta.desk.ctx.db.session() as session:
        conversation = await session.scalar(
            select(ConversationSession).where(
                ConversationSession.workspace_id == meta.desk.workspace_id, ConversationSession.channel == "whatsapp"
            )
        )
        assert conversation is not None
        message = await conversations.store_staff_reply(session, conversation, text, "ops@acme.example")
        return message.id


async def _message(meta: Meta, message_id: uuid.UUID) -> ConversationMessage:
    async with meta.desk.ctx.db.session() as session:
        message = await session.get(ConversationMessage, message_id)
    assert message is not None
    return message


async def _send(meta: Meta) -> None:
    await run_pending(meta.desk.ctx, tasks={outbound.TASK: registry.get(outbound.TASK)})


async def test_a_staff_reply_is_queued_with_the_message_and_sent_once(meta: Meta) -> None:
    message_id = await _staff_reply(meta)
    assert (await _message(meta, message_id)).status == "queued"
    before = len(meta.graph.sent_to(OUTLET))

    await _send(meta)
    await _send(meta)  # nothing left to do: not sent twice

    sent = meta.graph.sent_to(OUTLET)[before:]
    assert [m.body for m in sent] == [STAFF_TEXT]
    message = await _message(meta, message_id)
    assert message.status == "sent" and message.meta["whatsapp_ids"] == [sent[0].message_id]
    async with meta.desk.ctx.db.session() as session:
        jobs = list(await session.scalars(select(Job).where(Job.task == outbound.TASK)))
    assert [job.status for job in jobs] == ["succeeded"]


async def test_graph_failures_are_retried_and_the_message_still_goes_out_once(meta: Meta) -> None:
    message_id = await _staff_reply(meta)
    before, calls = len(meta.graph.sent_to(OUTLET)), meta.graph.count()
    meta.graph.script(["500", "503"])  # the client's own retries absorb two failures

    await _send(meta)

    assert meta.graph.count() - calls == 3
    assert [m.body for m in meta.graph.sent_to(OUTLET)[before:]] == [STAFF_TEXT]
    assert (await _message(meta, message_id)).status == "sent"


async def test_a_closed_24_hour_window_reported_later_marks_the_message_failed_with_the_reason(meta: Meta) -> None:
    message_id = await _staff_reply(meta)
    await _send(meta)
    wamid = (await _message(meta, message_id)).meta["whatsapp_ids"][0]
    failed = {
        "id": wamid,
        "status": "failed",
        "timestamp": "1763890000",
        "recipient_id": OUTLET,
        "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}],
    }

    ack = await meta.delivered(delivery(statuses=[failed, {**failed, "id": "wamid.unknown", "errors": []}]))

    assert ack["ignored"] == 1  # status callbacks are not messages to answer
    message = await _message(meta, message_id)
    assert message.status == "failed" and "more than 24 hours" in message.meta["send_error"]


async def test_a_reply_after_the_number_was_disconnected_fails_with_a_clear_reason(meta: Meta) -> None:
    message_id = await _staff_reply(meta)
    assert (await meta.admin("DELETE", "/config")).status_code == 204
    before = meta.graph.count()

    await _send(meta)

    message = await _message(meta, message_id)
    assert message.status == "failed" and "No WhatsApp number is connected" in message.meta["send_error"]
    assert meta.graph.count() == before
    async with meta.desk.ctx.db.session() as session:
        job = await session.scalar(select(Job).where(Job.task == outbound.TASK))
    assert job is not None and job.status == "failed"
