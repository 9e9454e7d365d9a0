"""One trace follows a request into the work it causes: an event carries the trace context of the span that published
it (in the outbox row, then in RabbitMQ's message headers), each consumer queue's delivery is a span in that trace,
and a job a handler enqueues continues it."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.core import telemetry
from opsdesk.events import registry
from opsdesk.events.models import OutboxEvent
from opsdesk.events.relay import InProcessTransport
from opsdesk.events.schemas import Event
from opsdesk.events.service import publish
from opsdesk.events.worker import EventBus, relay_pending
from opsdesk.jobs import registry as jobs_registry
from opsdesk.jobs import service as jobs
from opsdesk.jobs.registry import JobRun, task
from opsdesk.jobs.worker import run_pending
from tests.events.conftest import remember_queue
from tests.events.test_rabbitmq import eventually


@task("tests.event_follow_up", max_attempts=1)
async def _follow_up(ctx: Any, job: JobRun) -> None:
    with telemetry.span("inside the follow-up job"):
        return None


async def _enqueue_follow_up(session: AsyncSession, event: Event) -> None:
    with telemetry.span("inside the handler"):
        await jobs.enqueue(session, "tests.event_follow_up")


async def _refuse(session: AsyncSession, event: Event) -> None:
    raise RuntimeError("cannot handle it")


async def _publish_in_request(ctx: AppContext, event_type: str) -> Any:
    """Publishes one event inside a span standing for the request; returns that span's context."""
    with telemetry.span("request") as request:
        async with ctx.db.session() as session:
            await publish(session, event_type, {"n": 1}, key="run:1")
    return request.get_span_context()


async def test_an_in_process_delivery_continues_the_publishers_trace_into_the_job_its_handler_enqueues(
    spans: InMemorySpanExporter, ctx: AppContext
) -> None:
    subscription = registry.subscribe(["agent.task.completed"], _enqueue_follow_up, queue="test.traced")
    request = await _publish_in_request(ctx, "agent.task.completed")

    await relay_pending(ctx, transport=InProcessTransport(ctx.db, lambda: [subscription]))
    follow_up = jobs_registry.find("tests.event_follow_up")
    assert follow_up is not None
    await run_pending(ctx, tasks={"tests.event_follow_up": follow_up})

    finished = {s.name: s for s in spans.get_finished_spans()}
    delivery = finished["event agent.task.completed"]
    assert delivery.kind == SpanKind.CONSUMER and delivery.context.trace_id == request.trace_id
    assert delivery.parent is not None and delivery.parent.span_id == request.span_id
    assert delivery.attributes is not None and delivery.attributes["opsdesk.event_queue"] == "test.traced"
    assert delivery.attributes[telemetry.OUTCOME_ATTRIBUTE] == "processed"
    inside = finished["inside the handler"]
    assert inside.parent is not None and inside.parent.span_id == delivery.context.span_id
    job, in_job = finished["job tests.event_follow_up"], finished["inside the follow-up job"]
    assert job.parent is not None and job.parent.span_id == inside.context.span_id
    assert in_job.context.trace_id == request.trace_id


async def test_a_delivery_its_handler_fails_is_a_failed_span_in_the_publishers_trace(
    spans: InMemorySpanExporter, ctx: AppContext
) -> None:
    subscription = registry.subscribe(["approval.requested"], _refuse, queue="test.refusing", max_attempts=1)
    request = await _publish_in_request(ctx, "approval.requested")

    await relay_pending(ctx, transport=InProcessTransport(ctx.db, lambda: [subscription]))

    (delivery,) = [s for s in spans.get_finished_spans() if s.name == "event approval.requested"]
    assert delivery.parent is not None and delivery.parent.span_id == request.span_id
    assert delivery.status.status_code == StatusCode.ERROR
    assert delivery.attributes is not None and delivery.attributes[telemetry.OUTCOME_ATTRIBUTE] == "dead"


async def test_events_store_no_trace_context_while_tracing_is_off(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        event_id = await publish(session, "order.confirmed", {"n": 1})
    async with ctx.db.session() as session:
        stored = await session.get(OutboxEvent, event_id)
    assert stored is not None and stored.trace_context == {}


async def test_over_rabbitmq_the_consumers_span_continues_the_publishers_trace(
    spans: InMemorySpanExporter, bus_ctx: AppContext, exchange: str
) -> None:
    remember_queue(exchange, "test.traced-amqp")
    subscription = registry.subscribe(["agent.task.failed"], _enqueue_follow_up, queue="test.traced-amqp")
    bus = EventBus(bus_ctx, subscribed=[subscription], retry_base_s=0.01)
    bus.start()
    try:
        request = await _publish_in_request(bus_ctx, "agent.task.failed")
        await eventually(lambda: _finished(spans, "event agent.task.failed"), "the consumer's span")
    finally:
        await bus.stop()

    (delivery,) = [s for s in spans.get_finished_spans() if s.name == "event agent.task.failed"]
    assert delivery.context.trace_id == request.trace_id
    assert delivery.parent is not None and delivery.parent.span_id == request.span_id
    assert delivery.attributes is not None and delivery.attributes[telemetry.OUTCOME_ATTRIBUTE] == "processed"


async def _finished(spans: InMemorySpanExporter, name: str) -> bool:
    return any(s.name == name for s in spans.get_finished_spans())
