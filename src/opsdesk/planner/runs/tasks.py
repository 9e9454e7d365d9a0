"""The planner's background work, as tasks of the job layer."""

from __future__ import annotations

import uuid
from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.jobs.registry import JobRun, task
from opsdesk.planner.runs.forecasts import FORECAST_TASK, run_forecast


@task(FORECAST_TASK, max_attempts=2)
async def forecast(ctx: AppContext, job: JobRun) -> dict[str, Any]:
    """Forecasts every active item of the run's workspace and stores the series."""
    return await run_forecast(ctx, uuid.UUID(str(job.payload["run_id"])))
