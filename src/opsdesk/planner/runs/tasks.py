"""The planner's background work, as tasks of the job layer."""

from __future__ import annotations

import uuid
from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.jobs.registry import JobRun, task
from opsdesk.planner.runs.forecasts import FORECAST_TASK, run_forecast
from opsdesk.planner.runs.recommendations import recommend


@task(FORECAST_TASK, max_attempts=2)
async def forecast(ctx: AppContext, job: JobRun) -> dict[str, Any]:
    """Forecasts every active item of the run's workspace and stores the series (then, if asked, recommends)."""
    run_id = uuid.UUID(str(job.payload["run_id"]))
    result = await run_forecast(ctx, run_id)
    if job.payload.get("then_recommend") and result.get("status") == "succeeded" and job.workspace_id is not None:
        async with ctx.db.session() as session:
            plan = await recommend(session, job.workspace_id, forecast_run_id=run_id, created_by="demo")
            result["recommendation_id"] = str(plan.id)
    return result
