"""OpenTelemetry: one order message over the HTTP API is one trace, from the request through a flow step, a provider
call and the database, carrying the request id; log lines written during it carry the trace id."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from opsdesk.app.context import AppContext
from opsdesk.core import telemetry
from opsdesk.jobs import registry, service
from opsdesk.jobs.models import Job
from opsdesk.jobs.registry import JobRun, task
from opsdesk.jobs.worker import run_pending
from opsdesk.orders.chat.solution import register_order_desk
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE, open_desk


def test_tracing_is_off_without_an_endpoint() -> None:
    assert not telemetry.configure(None)
    assert not telemetry.enabled()
    with telemetry.span("nothing") as current:
        assert current is None


async def test_one_order_message_is_one_trace_from_request_to_flow_step_provider_and_database(
    spans: InMemorySpanExporter, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    register_order_desk()
    caplog.set_level(logging.INFO)
    async with open_desk(database_url, tmp_path) as desk, desk.client() as http:
        body = {"text": FORM_ORDER, "sender": TAMPINES_PHONE, "solution": "orders"}
        response = await http.post(desk.url("/conversations/messages"), json=body, headers=desk.tenant.headers())
    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]

    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if s.kind == SpanKind.SERVER and "/conversations/messages" in s.name]
    assert server.attributes is not None and server.attributes[telemetry.REQUEST_ID_ATTRIBUTE] == request_id
    trace_id = server.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    names = {s.name for s in in_trace}
    assert "orders.flow.parse" in names, names
    assert any(name.startswith("provider.") for name in names), names
    assert any((s.attributes or {}).get("db.system") in ("postgresql", "postgres") for s in in_trace), names
    assert len({s.context.trace_id for s in finished if s.name.startswith("orders.flow.")}) == 1

    trace_hex = format(trace_id, "032x")
    lines: list[dict[str, Any]] = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert any(line.get("trace_id") == trace_hex and line.get("request_id") == request_id for line in lines)


@task("tests.traced_job", max_attempts=1)
async def _traced_job(ctx: Any, job: JobRun) -> None:
    with telemetry.span("inside the job"):
        return None


async def test_a_job_run_continues_the_trace_of_what_enqueued_it(spans: InMemorySpanExporter, ctx: AppContext) -> None:
    with telemetry.span("request") as request:
        async with ctx.db.session() as session:
            await service.enqueue(session, "tests.traced_job")
    found = registry.find("tests.traced_job")
    assert found is not None
    await run_pending(ctx, tasks={"tests.traced_job": found})

    finished = {s.name: s for s in spans.get_finished_spans()}
    job, inside = finished["job tests.traced_job"], finished["inside the job"]
    assert job.context.trace_id == request.get_span_context().trace_id
    assert job.parent is not None and job.parent.span_id == request.get_span_context().span_id
    assert inside.parent is not None and inside.parent.span_id == job.context.span_id


async def test_jobs_store_no_trace_context_while_tracing_is_off(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        enqueued = await service.enqueue(session, "tests.traced_job")
    async with ctx.db.session() as session:
        stored = await session.get(Job, enqueued.id)
    assert stored is not None and stored.trace_context == {}
