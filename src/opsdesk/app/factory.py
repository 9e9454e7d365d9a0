"""Builds the FastAPI app from each domain's router: the one module that mounts every solution."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

from opsdesk import __version__
from opsdesk.app.audit import AuditMiddleware
from opsdesk.app.context import AppContext
from opsdesk.app.health import router as health_router
from opsdesk.auth.audit.routes import router as audit_router
from opsdesk.auth.members_routes import router as members_router
from opsdesk.auth.routes import router as auth_router
from opsdesk.conversation.routes import router as conversation_router
from opsdesk.conversation.whatsapp.routes import router as whatsapp_router
from opsdesk.conversation.whatsapp.routes import webhook_router as whatsapp_webhook_router
from opsdesk.core import telemetry
from opsdesk.core.http import RequestContextMiddleware, error_body, install_error_handlers
from opsdesk.core.logging import configure_logging, get_logger
from opsdesk.core.settings import Settings, get_settings
from opsdesk.crew.connections.routes import router as crew_connections_router
from opsdesk.crew.runs.routes import router as crew_runs_router
from opsdesk.gateway.routes import router as gateway_router
from opsdesk.jobs.routes import router as jobs_router
from opsdesk.knowledge.query.mcp_server import install_mcp
from opsdesk.knowledge.query.routes import router as query_router
from opsdesk.knowledge.routes import router as knowledge_router
from opsdesk.orders.delivery.service import MAX_TEMPLATE_BYTES
from opsdesk.orders.routes import router as orders_router
from opsdesk.planner.reports.routes import router as planner_reports_router
from opsdesk.planner.routes import router as planner_router
from opsdesk.providers.llm.base import UpstreamError
from opsdesk.voice.calls.routes import router as voice_calls_router
from opsdesk.voice.web_audio import router as voice_socket_router
from opsdesk.web.routes import router as console_router
from opsdesk.workspaces.settings.routes import router as workspace_settings_router

_log = get_logger(__name__)


def _body_limit(settings: Settings) -> Callable[[str], int]:
    """File uploads get the upload limit; every other body the (much smaller) JSON limit."""

    def limit(path: str) -> int:
        if path.endswith(("/documents", "/upload", "/import", "/planner/imports")):
            return settings.max_upload_bytes
        if path.endswith("/delivery-lists/template"):  # the workbook plus its mapping and the multipart framing
            return MAX_TEMPLATE_BYTES + 64 * 1024
        return settings.max_body_bytes

    return limit


def _install_upstream_handler(app: FastAPI) -> None:
    """A provider failure that escapes the fallback chain: 502, or 503 when the upstream is shedding load."""

    @app.exception_handler(UpstreamError)
    async def _upstream(_: Request, exc: UpstreamError) -> Response:
        status = 503 if exc.outcome in ("breaker_open", "rate_limited", "timeout") else 502
        body = error_body(status, f"The model provider failed: {exc}", code=exc.outcome, error_type="provider_error")
        return Response(body, status_code=status, media_type="application/json")


def create_app(settings: Settings | None = None, *, context: AppContext | None = None) -> FastAPI:
    """The opsdesk HTTP app. With `context`, the caller owns start-up and shutdown (tests, embedding)."""
    settings = settings or (context.settings if context else get_settings())
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if context is not None:
            app.state.ctx = context
            yield
            return
        ctx = await AppContext.open(settings)
        app.state.ctx = ctx
        _log.info("started", version=__version__, database="embedded" if ctx.db.embedded else "external")
        try:
            yield
        finally:
            try:
                await ctx.close()
            finally:
                ctx.db.stop_server()

    app = FastAPI(
        title="opsdesk",
        version=__version__,
        description="Self-hosted AI operations platform. OpenAI-compatible chat at /v1; platform API at /api/v1.",
        lifespan=lifespan,
    )
    if context is not None:
        app.state.ctx = context
    install_error_handlers(app)
    _install_upstream_handler(app)
    routers = (health_router, auth_router, gateway_router, knowledge_router, query_router, orders_router)
    for router in (*routers, conversation_router, whatsapp_router, whatsapp_webhook_router):
        app.include_router(router)
    app.include_router(workspace_settings_router)
    app.include_router(jobs_router)
    app.include_router(planner_router)
    app.include_router(planner_reports_router)
    app.include_router(crew_connections_router)
    app.include_router(crew_runs_router)
    app.include_router(audit_router)
    app.include_router(members_router)
    app.include_router(voice_calls_router)
    app.include_router(voice_socket_router)  # WebSocket calls to the voice desk (not in the OpenAPI schema)
    app.include_router(console_router)  # the browser console at / (HTML pages, outside the OpenAPI schema)
    install_mcp(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["x-request-id", "retry-after"],
        )
    app.add_middleware(AuditMiddleware)  # inside the request-id middleware: each row carries the request id
    telemetry.configure(settings.otel_endpoint, service_name=settings.otel_service_name)
    telemetry.instrument_app(app)  # inside the request-id middleware, so the id is known to the request's span
    app.add_middleware(RequestContextMiddleware, max_body=settings.max_body_bytes, body_limit_for=_body_limit(settings))
    return app
