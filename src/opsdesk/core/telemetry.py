"""OpenTelemetry traces: off unless `OPSDESK_OTEL_ENDPOINT` is set (or a test hands in an exporter).

While off, nothing is installed: no tracer provider, no exporter, no instrumentation, and `span()` is a
`nullcontext`, so the cost is one flag check. While on, HTTP requests (FastAPI), SQLAlchemy, Redis, flow steps,
provider calls and jobs make spans of one trace; the request id is an attribute of the request's span, and every
log line written inside a span carries its `trace_id` and `span_id`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, ParamSpec, TypeVar

import structlog
from opentelemetry import trace
from starlette.types import ASGIApp, Receive, Scope, Send

P = ParamSpec("P")
R = TypeVar("R")
REQUEST_ID_ATTRIBUTE = "opsdesk.request_id"
OUTCOME_ATTRIBUTE = "opsdesk.outcome"

_provider: Any = None  # the SDK's TracerProvider once configured
_tracer: trace.Tracer | None = None
_instrumented_engines: set[int] = set()


def enabled() -> bool:
    return _tracer is not None


def configure(endpoint: str | None, *, service_name: str = "opsdesk", exporter: Any = None) -> bool:
    """Turns tracing on for this process when an OTLP endpoint (or an exporter) is given; idempotent."""
    global _provider, _tracer
    if _tracer is not None or (endpoint is None and exporter is None):
        return _tracer is not None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        assert endpoint is not None
        traces_url = endpoint if endpoint.rstrip("/").endswith("/v1/traces") else endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().instrument(tracer_provider=provider)
    _provider, _tracer = provider, provider.get_tracer("opsdesk")
    return True


def shutdown() -> None:
    """Flushes and turns tracing off (tests; a process exiting flushes on its own)."""
    global _provider, _tracer
    if _provider is None:
        return
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().uninstrument()
    _provider.shutdown()
    _provider, _tracer = None, None
    _instrumented_engines.clear()


def span(name: str, **attributes: Any) -> Any:
    """A span around a block (a no-op context while tracing is off)."""
    if _tracer is None:
        return nullcontext()
    return _span(_tracer, name, attributes)


@contextmanager
def _span(tracer: trace.Tracer, name: str, attributes: dict[str, Any]) -> Iterator[trace.Span]:
    clean = {key: value for key, value in attributes.items() if value is not None}
    with tracer.start_as_current_span(name, attributes=clean) as current:
        yield current


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (`traceparent`), to hand to work done later; empty while off."""
    if _tracer is None:
        return {}
    from opentelemetry import propagate

    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


def continued_span(name: str, headers: dict[str, str] | None, **attributes: Any) -> Any:
    """A span that continues the trace in `headers` (from `carrier()`), e.g. a job run for a request."""
    if _tracer is None:
        return nullcontext()
    from opentelemetry import propagate

    parent = propagate.extract(headers or {})
    clean = {key: value for key, value in attributes.items() if value is not None}
    return _tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.CONSUMER, attributes=clean)


def set_outcome(current: Any, outcome: str, *, failed: bool = False) -> None:
    """Notes how the work in `current` (a span from `span()` or `continued_span()`, None while off) ended."""
    if current is None:
        return
    current.set_attribute(OUTCOME_ATTRIBUTE, outcome)
    if failed:
        current.set_status(trace.Status(trace.StatusCode.ERROR, outcome))


def traced(
    name: str, *, expected: tuple[type[BaseException], ...] = (), **attributes: Any
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorates a coroutine function with a span; exceptions in `expected` (control flow, such as a flow's
    interrupt) end the span without marking it failed."""

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if _tracer is None:
                return await func(*args, **kwargs)
            clean = {key: value for key, value in attributes.items() if value is not None}
            with _tracer.start_as_current_span(
                name, attributes=clean, record_exception=False, set_status_on_exception=False
            ) as current:
                try:
                    return await func(*args, **kwargs)
                except expected:
                    raise
                except Exception as exc:
                    current.record_exception(exc)
                    current.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
                    raise

        return wrapper

    return decorate


def instrument_engine(sync_engine: Any) -> None:
    """A client span per statement on this SQLAlchemy engine (pass `AsyncEngine.sync_engine`). The statement text
    is kept, never its parameters. (opentelemetry-instrumentation-sqlalchemy refuses SQLAlchemy 2.1.)"""
    if _tracer is None or id(sync_engine) in _instrumented_engines:
        return
    from sqlalchemy import event

    tracer = _tracer

    def before(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        if context is None:
            return
        context._opsdesk_span = tracer.start_span(
            _statement_name(statement),
            kind=trace.SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.system.name": "postgresql", "db.query.text": statement[:2000]},
        )

    def after(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        current = getattr(context, "_opsdesk_span", None)
        if current is not None:
            current.end()
            context._opsdesk_span = None

    def failed(exception_context: Any) -> None:
        current = getattr(exception_context.execution_context, "_opsdesk_span", None)
        if current is not None:
            error = exception_context.original_exception
            current.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
            current.end()
            exception_context.execution_context._opsdesk_span = None

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", failed)
    _instrumented_engines.add(id(sync_engine))


def _statement_name(statement: str) -> str:
    """The span name: the statement's first keyword (SELECT, INSERT …), as the database semantic conventions say."""
    words = statement.lstrip().split(None, 1)
    return words[0].upper() if words else "SQL"


def instrument_app(app: Any) -> None:
    """A server span per HTTP request, carrying the request id. Call before adding the request-id middleware, so
    that this one runs inside it."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app.add_middleware(_RequestIdOnSpan)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls="healthz,readyz,metrics")


class _RequestIdOnSpan:
    """Copies the request id (bound to the logging context by the request middleware) onto the server span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request_id = structlog.contextvars.get_contextvars().get("request_id")
            current = trace.get_current_span()
            if request_id and current.is_recording():
                current.set_attribute(REQUEST_ID_ATTRIBUTE, str(request_id))
        await self.app(scope, receive, send)


def add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the current span's trace and span ids on every log line written inside one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict
