"""`make run` loads demo data a new user can try at once; loading it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.demo import DOCS_KB, load_demo
from opsdesk.jobs.models import Job
from opsdesk.knowledge.ingest.worker import run_pending_jobs
from opsdesk.knowledge.models import Chunk, Document, KnowledgeBase
from opsdesk.planner.models import PlannerItem
from opsdesk.planner.runs.models import ForecastRun


async def test_demo_seeds_docs_and_policies_and_is_idempotent(ctx: AppContext) -> None:
    await load_demo(ctx)
    await run_pending_jobs(ctx)
    await load_demo(ctx)
    await run_pending_jobs(ctx)
    async with ctx.db.session() as session:
        kbs = {kb.name: kb for kb in await session.scalars(select(KnowledgeBase))}
        assert DOCS_KB in kbs and len(kbs) >= 2, sorted(kbs)
        documents = list(await session.scalars(select(Document).where(Document.kb_id == kbs[DOCS_KB].id)))
        assert len(documents) >= 3 and all(doc.status == "ready" for doc in documents)
        assert all(doc.latest_version == "v1.0.0" or doc.latest_version for doc in documents)
        chunks = await session.scalar(select(func.count()).select_from(Chunk)) or 0
    assert chunks > 0


async def test_demo_loads_the_planner_dealership_once_with_one_forecast_queued(ctx: AppContext) -> None:
    await load_demo(ctx)
    await load_demo(ctx)
    async with ctx.db.session() as session:
        items = await session.scalar(select(func.count()).select_from(PlannerItem)) or 0
        runs = list(await session.scalars(select(ForecastRun)))
        jobs = list(await session.scalars(select(Job).where(Job.task == "planner.forecast")))
    assert items == 40
    assert len(runs) == 1 and runs[0].status == "queued"
    assert len(jobs) == 1 and jobs[0].payload["then_recommend"] is True
