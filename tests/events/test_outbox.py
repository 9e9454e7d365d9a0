"""The outbox and in-process delivery: an event exists only if its transaction commits; subscribers get each event
once per queue, in order per key; a handler that keeps failing makes the event dead for its queue."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.events import registry
from opsdesk.events.models import EventConsumption, OutboxEvent
from opsdesk.events.registry import topic_matches
from opsdesk.events.relay import EventRelay, InProcessTransport
from opsdesk.events.schemas import Event, InvalidEvent
from opsdesk.events.service import claim, consumption, prune, publish, relay_status, retry_dead
from opsdesk.events.worker import relay_pending


class Boom(RuntimeError):
    pass


async def _outbox(ctx: AppContext) -> list[OutboxEvent]:
    async with ctx.db.session() as session:
        return list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))


async def _relay(ctx: AppContext) -> None:
    await relay_pending(ctx, transport=InProcessTransport(ctx.db), retry_base_s=0.001, retry_cap_s=0.01)


async def test_an_event_is_written_with_its_transaction_and_only_if_it_commits(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        kept = await publish(session, "order.confirmed", {"number": "ORD-1"}, key="order:1")
    with pytest.raises(Boom):
        async with ctx.db.session() as session:
            await publish(session, "order.confirmed", {"number": "ORD-2"}, key="order:2")
            raise Boom("the state change failed after the event was written")

    rows = await _outbox(ctx)

    assert [row.id for row in rows] == [kept]
    row = rows[0]
    assert row.event_type == "order.confirmed" and row.payload == {"number": "ORD-1"} and row.key == "order:1"
    assert row.published_at is None and row.attempts == 0 and row.occurred_at is not None


async def test_payloads_are_plain_json_and_malformed_events_are_refused(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        await publish(
            session,
            "invoice.posted",
            {"total": Decimal("12.50"), "id": uuid.UUID(int=7), "note": "a\x00b", "lines": ({"sku": "PB"},)},
        )
        for bad_type in ("Order.Confirmed", "order", "order.*", "order.#", "", "x" * 101 + ".y"):
            with pytest.raises(InvalidEvent):
                await publish(session, bad_type, {})
        with pytest.raises(InvalidEvent):
            await publish(session, "order.confirmed", {"when": object()})
        with pytest.raises(InvalidEvent):
            await publish(session, "order.confirmed", {}, key="")

    payload = (await _outbox(ctx))[0].payload
    assert payload == {"total": "12.50", "id": str(uuid.UUID(int=7)), "note": "a\ufffdb", "lines": [{"sku": "PB"}]}


def test_patterns_route_like_a_rabbitmq_topic_exchange() -> None:
    assert topic_matches("order.*", "order.confirmed")
    assert not topic_matches("order.*", "order.line.changed")
    assert topic_matches("agent.#", "agent.task.failed") and topic_matches("agent.#", "agent")
    assert topic_matches("#", "call.ended") and topic_matches("*.posted", "invoice.posted")
    assert topic_matches("agent.*.failed", "agent.task.failed") and not topic_matches("agent.*.failed", "agent.failed")
    assert not topic_matches("order.confirmed", "order.cancelled")
    with pytest.raises(ValueError):
        registry.subscribe(["order.conf*"], _ignore, queue="bad.pattern")
    with pytest.raises(ValueError):
        registry.subscribe(["order.*"], _ignore, queue="ends.dead")


async def _ignore(session: AsyncSession, event: Event) -> None:
    return None


async def test_in_process_subscribers_get_each_event_once_in_order(ctx: AppContext) -> None:
    seen: list[tuple[str, int]] = []

    async def record(session: AsyncSession, event: Event) -> None:
        seen.append((event.type, event.payload["n"]))

    registry.subscribe(["order.*"], record, queue="test.orders")
    async with ctx.db.session() as session:
        for n in range(6):
            await publish(session, "order.confirmed" if n % 2 else "order.cancelled", {"n": n}, key=f"order:{n % 2}")
        await publish(session, "invoice.posted", {"n": 99})  # nobody here listens to invoices

    await _relay(ctx)
    # The relay crashed after delivering and before recording it: everything goes out again.
    async with ctx.db.session() as session:
        await session.execute(update(OutboxEvent).values(published_at=None))
    await _relay(ctx)

    assert [n for _, n in seen] == [0, 1, 2, 3, 4, 5]
    rows = await _outbox(ctx)
    assert all(row.published_at is not None for row in rows)
    async with ctx.db.session() as session:
        processed = await session.scalar(
            select(func.count()).select_from(EventConsumption).where(EventConsumption.status == "processed")
        )
    assert processed == 6


async def test_a_handler_that_keeps_failing_makes_its_event_dead_and_later_events_of_its_key_wait(
    ctx: AppContext,
) -> None:
    calls: list[str] = []

    async def fragile(session: AsyncSession, event: Event) -> None:
        calls.append(event.payload["name"])
        if event.payload["name"] == "poison":
            raise Boom("cannot handle this one")

    registry.subscribe(["call.ended"], fragile, queue="test.calls", max_attempts=3)
    async with ctx.db.session() as session:
        poison = await publish(session, "call.ended", {"name": "poison"}, key="line:1")
        await publish(session, "call.ended", {"name": "after-poison"}, key="line:1")
        await publish(session, "call.ended", {"name": "other-line"}, key="line:2")

    await _relay(ctx)

    assert calls.count("poison") == 3
    assert calls.index("other-line") < calls.index("after-poison")  # another key does not wait
    assert calls.index("after-poison") > max(i for i, name in enumerate(calls) if name == "poison")
    dead = await consumption(ctx.db, "test.calls", poison)
    assert dead is not None and dead.status == "dead" and dead.attempts == 3
    assert dead.last_error == "Boom: cannot handle this one"
    assert all(row.published_at is not None for row in await _outbox(ctx))


async def test_what_a_handler_writes_commits_with_its_processed_mark_or_not_at_all(ctx: AppContext) -> None:
    async def chain(session: AsyncSession, event: Event) -> None:
        await publish(session, "workflow.step.completed", {"after": event.payload["n"]})
        if event.payload["n"] == 1:
            raise Boom("failed after writing")

    registry.subscribe(["approval.requested"], chain, queue="test.chain", max_attempts=1)
    async with ctx.db.session() as session:
        await publish(session, "approval.requested", {"n": 0})
        await publish(session, "approval.requested", {"n": 1})

    await EventRelay(ctx, transport=InProcessTransport(ctx.db), poll_s=0.01).relay_batch()

    follow_ups = [row.payload for row in await _outbox(ctx) if row.event_type == "workflow.step.completed"]
    assert follow_ups == [{"after": 0}]


async def test_relayed_events_and_processed_records_are_pruned_after_the_retention(ctx: AppContext) -> None:
    registry.subscribe(["order.*"], _ignore, queue="test.prune")
    async with ctx.db.session() as session:
        await publish(session, "order.confirmed", {})
    await _relay(ctx)
    async with ctx.db.session() as session:
        await publish(session, "order.cancelled", {})  # not relayed yet: kept whatever its age

    deleted = await prune(ctx.db, older_than=timedelta(0))

    assert deleted == {"events": 1, "consumptions": 1}
    assert [row.event_type for row in await _outbox(ctx)] == ["order.cancelled"]


async def test_a_dead_event_runs_again_once_its_queue_is_retried_after_a_fix(ctx: AppContext) -> None:
    broken = True
    handled: list[int] = []

    async def handler(session: AsyncSession, event: Event) -> None:
        if broken:
            raise Boom("not yet fixed")
        handled.append(event.payload["n"])

    registry.subscribe(["order.confirmed"], handler, queue="test.retry", max_attempts=2)
    async with ctx.db.session() as session:
        event_id = await publish(session, "order.confirmed", {"n": 1})
    await _relay(ctx)
    dead = await consumption(ctx.db, "test.retry", event_id)
    assert dead is not None and dead.status == "dead" and handled == []

    broken = False
    assert await retry_dead(ctx.db, "test.retry", relay_again=True) == [event_id]
    await _relay(ctx)

    assert handled == [1]
    done = await consumption(ctx.db, "test.retry", event_id)
    assert done is not None and done.status == "processed"


async def test_the_console_status_says_when_events_stop_getting_through(ctx: AppContext) -> None:
    assert await relay_status(ctx.db, amqp=True) == ("ok", "configured: events relayed")
    assert await relay_status(ctx.db, amqp=False) == ("off", "not configured: events in process")
    async with ctx.db.session() as session:
        event_id = await publish(session, "call.ended", {})
        row = await session.get(OutboxEvent, event_id)
        assert row is not None
        later = row.occurred_at + timedelta(minutes=2)

    assert await relay_status(ctx.db, amqp=True, now=later) == ("down", "events waiting 120 s for RabbitMQ")
    assert (await relay_status(ctx.db, amqp=True, now=row.occurred_at))[0] == "ok"  # just written: not late yet


async def test_a_busy_key_goes_out_in_one_batch_in_order_and_one_relay_works_at_a_time(ctx: AppContext) -> None:
    seen: list[int] = []

    async def record(session: AsyncSession, event: Event) -> None:
        seen.append(event.payload["n"])

    registry.subscribe(["workflow.step.completed"], record, queue="test.busy")
    async with ctx.db.session() as session:
        for n in range(30):
            await publish(session, "workflow.step.completed", {"n": n}, key="run:1")

    async with ctx.db.session() as holding:
        assert len(await claim(holding, limit=5)) == 5
        async with ctx.db.session() as other:  # another relay while the first holds its batch
            assert await claim(other, limit=5) == []
    relay = EventRelay(ctx, transport=InProcessTransport(ctx.db), batch=100)
    claimed = await relay.relay_batch()

    assert claimed == 30 and seen == list(range(30))


async def test_a_committed_event_wakes_the_relay_without_waiting_for_its_poll(ctx: AppContext) -> None:
    delivered = asyncio.Event()

    async def record(session: AsyncSession, event: Event) -> None:
        delivered.set()

    registry.subscribe(["call.ended"], record, queue="test.wake")
    relay = EventRelay(ctx, transport=InProcessTransport(ctx.db), poll_s=3600)  # it would poll once an hour
    running = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(30):
            await relay.listening.wait()
            async with ctx.db.session() as session:
                await publish(session, "call.ended", {})
            await delivered.wait()
    finally:
        await relay.stop()
        await running
    assert delivered.is_set()
