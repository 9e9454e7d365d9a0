"""Planner API under /api/v1/workspaces/{ws}/planner: imports, constraints, forecasts, recommendations, what-if,
learning, and the recommendation as Excel. Thin: each handler checks the role, calls a service, returns a schema."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Response, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import Paging, get_ctx, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.core.uploads import read_upload
from opsdesk.db.idempotency import run_idempotent
from opsdesk.planner.chat import register_planner_chat
from opsdesk.planner.imports.schemas import ImportOptions, ImportReport, UploadedFile
from opsdesk.planner.imports.service import import_file
from opsdesk.planner.runs import forecasts, learning, recommendations
from opsdesk.planner.runs.schemas import (
    ConstraintsIn,
    ForecastRunOut,
    ForecastStart,
    LearningCycleOut,
    LineOut,
    RecommendationOut,
    RecommendIn,
    SeriesOut,
    WhatIfIn,
    WhatIfOut,
)

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/planner", tags=["planner"])
can_read = require_in_workspace(Permission.read)
can_write = require_in_workspace(Permission.write)
session_dep = Depends(get_session, scope="function")
ImportKindParam = Literal["items", "inventory", "sales", "market", "allocations", "feedback", "on_order"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post("/imports", response_model=ImportReport)
async def import_data(
    workspace: str,
    kind: ImportKindParam = Form(...),
    file: UploadFile = File(..., description="CSV, or an .xlsx workbook (first sheet), with a header row."),
    dry_run: bool = Form(False),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
    ctx: AppContext = Depends(get_ctx),
) -> ImportReport:
    """Checks every row first; writes all or nothing (a dry run only reports). The same file twice changes nothing."""
    data = await read_upload(file, ctx.settings.max_upload_bytes)
    upload = UploadedFile(kind=kind, file_name=(file.filename or f"{kind}.csv")[:300], data=data)
    options = ImportOptions(max_bytes=ctx.settings.max_upload_bytes)
    return await import_file(
        session, principal.workspace_id, upload, created_by=str(principal.subject_id), options=options, dry_run=dry_run
    )


@router.get("/constraints", response_model=ConstraintsIn)
async def get_constraints(
    workspace: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> ConstraintsIn:
    state = await recommendations.state_of(session, principal.workspace_id)
    return ConstraintsIn.model_validate(state.constraints or {})


@router.put("/constraints", response_model=ConstraintsIn)
async def put_constraints(
    workspace: str, body: ConstraintsIn, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> ConstraintsIn:
    """Replaces the constraints every recommendation of this workspace plans under."""
    state = await recommendations.save_constraints(session, principal.workspace_id, body)
    return ConstraintsIn.model_validate(state.constraints)


@router.post("/forecasts", response_model=ForecastRunOut, status_code=202)
async def start_forecast(
    workspace: str,
    body: ForecastStart,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> Any:
    """Queues a forecast of every active item; follow it on GET …/forecasts/{id} (progress) or the jobs API."""

    async def create() -> Any:
        run = await forecasts.start_forecast(
            session, principal.workspace_id, freq=body.freq, horizon=body.horizon, created_by=str(principal.subject_id)
        )
        await session.flush()
        await session.refresh(run)
        return ForecastRunOut.model_validate(run).model_dump(mode="json")

    return await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route="planner.forecasts",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
        status_code=202,
    )


@router.get("/forecasts/{run_id}", response_model=ForecastRunOut)
async def get_forecast(
    workspace: str, run_id: uuid.UUID, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> ForecastRunOut:
    return ForecastRunOut.model_validate(await forecasts.get_run(session, principal.workspace_id, run_id))


@router.get("/forecasts/{run_id}/series", response_model=Page[SeriesOut])
async def forecast_series(
    workspace: str,
    run_id: uuid.UUID,
    level: Literal["item", "line", "total"] = Query("item"),
    key: str | None = Query(default=None, max_length=100),
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[SeriesOut]:
    """Each series' model, backtest error (MASE, sMAPE) and forecast with 80/95 % intervals, by key."""
    run = await forecasts.get_run(session, principal.workspace_id, run_id)
    rows, total = await forecasts.page_of_series(
        session, run.id, level=level, key=key, limit=asked.limit, offset=asked.offset
    )
    return asked.page([SeriesOut.model_validate(row) for row in rows], total)


async def _recommendation_out(session: AsyncSession, run: Any) -> RecommendationOut:
    out = RecommendationOut.model_validate(run)
    out.lines = [LineOut.model_validate(line) for line in await recommendations.lines_of(session, run.id)]
    return out


@router.post("/recommendations", response_model=RecommendationOut, status_code=201)
async def recommend(
    workspace: str,
    body: RecommendIn,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> Any:
    """Solves the order plan: one line per item with its reason; conflicting constraints come back explained."""

    async def create() -> Any:
        run = await recommendations.recommend(
            session,
            principal.workspace_id,
            forecast_run_id=body.forecast_run_id,
            constraints=body.constraints,
            created_by=str(principal.subject_id),
        )
        await session.refresh(run)
        return (await _recommendation_out(session, run)).model_dump(mode="json")

    return await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route="planner.recommendations",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
    )


@router.get("/recommendations/latest", response_model=RecommendationOut)
async def latest_recommendation(
    workspace: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> RecommendationOut:
    run = await recommendations.latest_recommendation(session, principal.workspace_id)
    return await _recommendation_out(session, run)


@router.get("/recommendations/{run_id}", response_model=RecommendationOut)
async def get_recommendation(
    workspace: str, run_id: uuid.UUID, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> RecommendationOut:
    run = await recommendations.get_recommendation(session, principal.workspace_id, run_id)
    return await _recommendation_out(session, run)


@router.post("/recommendations/{run_id}/what-if", response_model=WhatIfOut, status_code=201)
async def what_if(
    workspace: str,
    run_id: uuid.UUID,
    body: WhatIfIn,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> WhatIfOut:
    """Re-solves the run with some constraints changed (e.g. {"lot_space": 140}) and says what moved."""
    result = await recommendations.what_if(
        session, principal.workspace_id, run_id, body.changes, str(principal.subject_id)
    )
    await session.refresh(result.changed)
    run = await _recommendation_out(session, result.changed)
    moved = [{"item_key": key, "before": before, "after": after} for key, before, after in result.moved]
    units_before, units_after = result.total("units")
    delta = result.objective_delta
    summary = (
        f"{len(moved)} lines change, {int(units_after) - int(units_before):+d} units in total, objective {delta:+,.0f}"
    )
    if result.changed.infeasibility:
        summary += f"; {result.changed.infeasibility['message']}"
    return WhatIfOut(base_run_id=result.base.id, run=run, changes=moved, objective_delta=delta, summary=summary)


@router.get("/recommendations/{run_id}/export.xlsx")
async def export_recommendation(
    workspace: str, run_id: uuid.UUID, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> Response:
    """The plan as a workbook, one row per item to order, values only (ready for the maker's order system)."""
    run = await recommendations.get_recommendation(session, principal.workspace_id, run_id)
    data = await recommendations.workbook(session, principal.workspace_id, run)
    headers = {"Content-Disposition": f'attachment; filename="{recommendations.workbook_filename(run)}"'}
    return Response(data, media_type=XLSX, headers=headers)


@router.post("/learning-cycles", response_model=LearningCycleOut, status_code=201)
async def learn(
    workspace: str,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> Any:
    """Learns weights and item biases from the feedback; they replace the current ones only if held-out weeks gain."""

    async def create() -> Any:
        cycle = await learning.learn(session, principal.workspace_id, created_by=str(principal.subject_id))
        await session.refresh(cycle)
        return LearningCycleOut.model_validate(cycle).model_dump(mode="json")

    return await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route="planner.learning-cycles",
        key=idempotency_key,
        request={},
        create=create,
    )


@router.get("/learning-cycles", response_model=Page[LearningCycleOut])
async def list_learning_cycles(
    workspace: str,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[LearningCycleOut]:
    """Newest first: each cycle's old and new weights, held-out objective before and after, and its verdict."""
    rows, total = await learning.list_cycles(session, principal.workspace_id, limit=asked.limit, offset=asked.offset)
    return asked.page([LearningCycleOut.model_validate(r) for r in rows], total)


# The app includes this router, so wherever the API runs the conversation runtime knows the planner too.
register_planner_chat()
