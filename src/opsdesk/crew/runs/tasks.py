"""The crew's background task: ``crew.advance`` drives a run to its next stop (a gate, a pause, the end)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.crew.runs import service
from opsdesk.crew.runs.models import CrewRun
from opsdesk.jobs.registry import JobRun, task
from opsdesk.jobs.service import enqueue

KEEP_CHECKPOINTS = timedelta(days=30)  # a finished run's flow state; its row (artefacts, links) stays
_PAUSE_RETRY_S = 60.0  # a paused run (vendor unavailable) is tried again after this, or the vendor's Retry-After


@task(service.ADVANCE_TASK, max_attempts=3, backoff_base_s=10.0)
async def advance_run(ctx: AppContext, job: JobRun) -> dict[str, Any]:
    """Starts, answers or resumes the run; a run paused by an unavailable vendor is queued to resume later."""
    run_id = uuid.UUID(str(job.payload["run_id"]))
    stop = await service.advance(ctx, run_id, str(job.payload.get("action", "resume")), job.payload.get("answer"))
    if stop.status == "paused":
        wait = max(_PAUSE_RETRY_S, float(getattr(stop, "retry_after_s", None) or 0.0))
        async with ctx.db.session() as session:
            run = await session.get(CrewRun, run_id)
            if run is not None:
                await enqueue(
                    session,
                    service.ADVANCE_TASK,
                    {"run_id": str(run_id), "action": "resume"},
                    workspace_id=run.workspace_id,
                    run_after=datetime.now(UTC) + timedelta(seconds=wait),
                )
    return {"status": stop.status, "gate": stop.gate}


@task("crew.prune_checkpoints", cron="20 4 * * *", max_attempts=2)
async def prune_checkpoints(ctx: AppContext, job: JobRun) -> dict[str, int]:
    """Deletes the checkpoints of runs completed more than 30 days ago (LangGraph's saver has no retention)."""
    return {"runs": await service.prune_checkpoints(ctx, older_than=KEEP_CHECKPOINTS)}
