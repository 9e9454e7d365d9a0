"""Demo data for `make run`: what a new user needs to try opsdesk at once."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.core.errors import NotFound
from opsdesk.core.logging import get_logger

_log = get_logger(__name__)
DOCS_KB = "opsdesk-docs"


def _opsdesk_docs() -> list[tuple[str, bytes]]:
    folder = files("opsdesk.demo").joinpath("docs")
    return sorted((item.name, item.read_bytes()) for item in folder.iterdir() if item.name.endswith(".md"))


async def _seed_docs_kb(ctx: AppContext) -> int:
    from opsdesk.knowledge import service
    from opsdesk.knowledge.ingest import service as ingest_service
    from opsdesk.knowledge.ingest.staging import SourceFile
    from opsdesk.knowledge.models import Document
    from opsdesk.knowledge.schemas import KnowledgeBaseIn

    async with ctx.db.session() as session:
        workspace = await auth.get_or_create_workspace(session, ctx.settings.default_workspace)
        try:
            kb = await service.get_kb(session, workspace.id, DOCS_KB)
        except NotFound:
            data = KnowledgeBaseIn(name=DOCS_KB, description="How to install, configure and use opsdesk (demo).")
            kb = await service.create_kb(session, workspace.id, data)
        present = set(await session.scalars(select(Document.source_key).where(Document.kb_id == kb.id)))
        docs = [
            SourceFile(name, data, name, "text/markdown", ["opsdesk", "demo"])
            for name, data in _opsdesk_docs()
            if name not in present
        ]
        if docs:
            await ingest_service.queue_files(session, kb, docs)
    return len(docs)


async def load_demo(ctx: AppContext) -> None:
    """Loads every solution's demo data that is not there yet (idempotent); the worker then ingests documents."""
    from opsdesk.crew.demo.load import load_crew_demo
    from opsdesk.orders.demo import load_order_demo

    docs = await _seed_docs_kb(ctx)
    async with ctx.db.session() as session:
        workspace = await auth.get_or_create_workspace(session, ctx.settings.default_workspace)
    orders = await load_order_demo(ctx, workspace.id)
    planner = await _seed_planner(ctx, workspace.id)
    crew = await load_crew_demo(ctx, workspace.id)  # local Jira, Confluence, GitLab in this process; a sample run
    _log.info(
        "demo_loaded",
        workspace=ctx.settings.default_workspace,
        docs_queued=docs,
        order_demo=str(orders),
        planner_demo=planner,
        crew_demo=str(crew.run_id),
    )


async def _seed_planner(ctx: AppContext, workspace_id: Any) -> str:
    """The invented dealership's files, and (the first time) a forecast job that recommends when it is done."""
    from opsdesk.planner.demo.load import load_dealership
    from opsdesk.planner.runs.forecasts import start_forecast
    from opsdesk.planner.runs.models import ForecastRun

    async with ctx.db.session() as session:
        report = await load_dealership(session, workspace_id)
        if report.errors:
            _log.warning("planner_demo_not_loaded", problems=[p.problem for p in report.errors[:5]])
            return "not loaded"
        if await session.scalar(select(ForecastRun.id).where(ForecastRun.workspace_id == workspace_id).limit(1)):
            return "loaded"
        await start_forecast(session, workspace_id, created_by="demo", then_recommend=True)
    return "loaded, forecast queued"
