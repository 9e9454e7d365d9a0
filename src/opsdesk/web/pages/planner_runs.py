"""Planner actions from the console: start a forecast (its progress polled in place), solve the plan again, learn
from the outcomes, and download the plan as Excel — the same services as the planner API."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Form
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from opsdesk.planner.runs import forecasts, learning, recommendations
from opsdesk.planner.runs.models import ForecastRun, LearningCycleRow
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render_fragment

router = page_router()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What the planner page may say was just done (never free text from the URL).
DONE = {
    "forecast": "Forecast queued. The page follows its progress; the plan is solved again when it finishes.",
    "recommended": "The plan was solved again with the current forecast and constraints.",
    "learned": "A learning cycle ran on the outcome feedback (its result is in the list below).",
}


async def newest_forecast(db: AsyncSession, workspace_id: uuid.UUID) -> dict[str, Any] | None:
    """The newest forecast run of any status, with its progress in percent while it runs."""
    run = await db.scalar(
        select(ForecastRun).where(ForecastRun.workspace_id == workspace_id).order_by(ForecastRun.created_at.desc())
    )
    if run is None:
        return None
    done, total = int(run.progress.get("done", 0)), int(run.progress.get("total", 0))
    return {
        "id": run.id,
        "status": run.status,
        "percent": round(100 * done / total) if total else 0,
        "error": run.error,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "active": run.status in ("queued", "running"),
    }


async def recent_cycles(db: AsyncSession, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    rows, _ = await learning.list_cycles(db, workspace_id, limit=5, offset=0)
    return [_cycle(row) for row in rows]


def _cycle(row: LearningCycleRow) -> dict[str, Any]:
    return {
        "created_at": row.created_at,
        "accepted": row.accepted,
        "reason": row.reason,
        "objective_before": row.objective_before,
        "objective_after": row.objective_after,
    }


@router.get("/planner/forecast-status")
async def forecast_status(c: Console = PageConsole) -> Response:
    """The newest forecast run's status (htmx polls it while the run is queued or running)."""
    async with c.ctx.db.session() as db:
        run = await newest_forecast(db, c.signed_in_principal.workspace_id)
    return render_fragment(c, "planner_run.html", {"run": run})


@router.post("/planner/forecast")
async def start_forecast(
    horizon: int = Form(8, ge=1, le=104), then_recommend: bool = Form(False), c: Console = PageConsole
) -> Response:
    """Queues a forecast of every active item (as POST …/planner/forecasts), optionally solving the plan after it."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        by = str(principal.subject_id)
        await forecasts.start_forecast(
            db, principal.workspace_id, horizon=horizon, created_by=by, then_recommend=then_recommend
        )
    return RedirectResponse("/planner?done=forecast", status_code=303)


@router.post("/planner/recommend")
async def recommend(c: Console = PageConsole) -> Response:
    """Solves the plan again on the newest finished forecast with the workspace's constraints."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        await recommendations.recommend(db, principal.workspace_id, created_by=str(principal.subject_id))
    return RedirectResponse("/planner?done=recommended", status_code=303)


@router.post("/planner/learn")
async def learn(c: Console = PageConsole) -> Response:
    """One learning cycle on the outcome feedback; its weights are kept only if held-out weeks gain."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        await learning.learn(db, principal.workspace_id, created_by=str(principal.subject_id))
    return RedirectResponse("/planner?done=learned", status_code=303)


@router.get("/planner/plans/{run_id}.xlsx")
async def plan_workbook(run_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """The plan as a workbook, values only (as GET …/recommendations/{id}/export.xlsx)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        run = await recommendations.get_recommendation(db, principal.workspace_id, run_id)
        data = await recommendations.workbook(db, principal.workspace_id, run)
    headers = {"Content-Disposition": f'attachment; filename="{recommendations.workbook_filename(run)}"'}
    return Response(data, media_type=XLSX, headers=headers)
