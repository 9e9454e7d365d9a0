"""Home: what this opsdesk is running on and, per solution, whether it is set up and today's numbers."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from opsdesk.app.context import AppContext
from opsdesk.core.errors import NotFound
from opsdesk.crew.runs.models import CrewRun
from opsdesk.events.service import relay_status
from opsdesk.knowledge.models import Document, KnowledgeBase
from opsdesk.orders.models import Order
from opsdesk.planner.runs import forecasts, recommendations
from opsdesk.voice.calls.models import VoiceCall
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render

router = page_router()


async def platform_status(ctx: AppContext) -> list[dict[str, str]]:
    """The parts in DESIGN.md's table: configured or embedded, and whether they answer."""
    settings = ctx.settings
    database = await ctx.db.ready()
    chat = [f"{name} ({ctx.providers.chat(name).model})" for name in ctx.providers.names]
    events_state, events_detail = await relay_status(ctx.db, amqp=settings.amqp_url is not None)
    return [
        {
            "part": "Database",
            "state": "ok" if database else "down",
            "detail": "embedded PostgreSQL" if ctx.db.embedded else "external PostgreSQL",
        },
        {
            "part": "Redis",
            "state": "ok" if ctx.limiter.backend == "redis" else ("down" if settings.redis_url else "off"),
            "detail": "configured" if settings.redis_url else "not configured: caches and limits in process",
        },
        {"part": "RabbitMQ", "state": events_state, "detail": events_detail},
        {
            "part": "Chat models",
            "state": "ok" if chat else "off",
            "detail": ", ".join(chat) or "none configured",
        },
        {"part": "Embeddings", "state": "ok", "detail": settings.embedding_provider},
    ]


def _start_of_today(timezone: str) -> datetime:
    zone = ZoneInfo(timezone)
    return datetime.combine(datetime.now(zone).date(), time.min, tzinfo=zone)


async def _count(db: AsyncSession, model: Any, workspace_id: uuid.UUID, *where: Any) -> int:
    query = select(func.count()).select_from(model).where(model.workspace_id == workspace_id, *where)
    return int(await db.scalar(query) or 0)


async def solutions(ctx: AppContext, db: AsyncSession, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    """Each solution's state in this workspace and its numbers for today."""
    today = _start_of_today(ctx.settings.order_timezone)
    orders_today = await _count(db, Order, workspace_id, Order.created_at >= today)
    orders_total = await _count(db, Order, workspace_id)
    bases = await _count(db, KnowledgeBase, workspace_id)
    documents = await _count(db, Document, workspace_id)
    ready = await _count(db, Document, workspace_id, Document.status == "ready")
    planner: dict[str, Any] = {"name": "Inventory planner", "href": "/planner"}
    try:
        plan = await recommendations.latest_recommendation(db, workspace_id)
        units, cost = int(plan.totals.get("units", 0)), float(plan.totals.get("cost", 0.0))
        planner |= {"state": plan.status, "numbers": [f"latest plan: {units:,} units", f"cost {cost:,.0f}"]}
    except NotFound:
        try:
            run = await forecasts.latest_run(db, workspace_id)
            planner |= {"state": "forecast only", "numbers": [f"{run.series} series forecast"]}
        except NotFound:
            planner |= {"state": "not set up", "numbers": ["no forecast yet: import sales, then forecast"]}
    calls_today = await _count(db, VoiceCall, workspace_id, VoiceCall.started_at >= today)
    transferred_today = await _count(
        db, VoiceCall, workspace_id, VoiceCall.started_at >= today, VoiceCall.transfers > 0
    )
    calls_total = await _count(db, VoiceCall, workspace_id)
    runs_active = await _count(db, CrewRun, workspace_id, CrewRun.status.in_(("running", "waiting", "paused")))
    runs_waiting = await _count(db, CrewRun, workspace_id, CrewRun.status == "waiting")
    runs_done = await _count(db, CrewRun, workspace_id, CrewRun.status == "completed")
    return [
        {
            "name": "Order desk",
            "href": None,
            "state": "in use" if orders_total else "no orders yet",
            "numbers": [f"{orders_today:,} orders today", f"{orders_total:,} in all"],
        },
        {
            "name": "Knowledge",
            "href": "/knowledge",
            "state": "in use" if documents else "no documents yet",
            "numbers": [f"{bases:,} knowledge bases", f"{documents:,} documents ({ready:,} ready)"],
        },
        planner,
        {
            "name": "Voice desk",
            "href": "/calls",
            "state": "in use" if calls_total else "no calls yet",
            "numbers": [f"{calls_today:,} calls today", f"{transferred_today:,} transferred to a person"],
        },
        {
            "name": "Delivery crew",
            "href": "/crew",
            "state": f"{runs_waiting:,} waiting for approval"
            if runs_waiting
            else ("in use" if runs_done else "no runs yet"),
            "numbers": [f"{runs_active:,} runs open", f"{runs_done:,} completed"],
        },
    ]


@router.get("/")
async def home(c: Console = PageConsole) -> Response:
    """The first page after sign-in."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        found = await solutions(c.ctx, db, principal.workspace_id)
    data = {"platform": await platform_status(c.ctx), "solutions": found, "workspace": principal.workspace_slug}
    return render(c, "home.html", data)
