"""Planner measures, charts and the PDF report under /api/v1/workspaces/{ws}/planner (read role). Thin: each
handler checks the role, calls reports.service and returns a schema or the file."""

from __future__ import annotations

import uuid
from typing import Literal, cast

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.deps import Paging, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.service import Principal
from opsdesk.planner.reports import charts, service
from opsdesk.planner.reports.plots import plotly_figure
from opsdesk.planner.reports.schemas import HistoryPointOut, KeyMeasuresOut, MeasureHistoryOut, MeasuresOut

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/planner", tags=["planner"])
can_read = require_in_workspace(Permission.read)
session_dep = Depends(get_session, scope="function")
By = Literal["item", "line"]
CHART_FILE = r"^(forecast|recommendation|days-of-supply|learning)\.(png|svg|json)$"
# An SVG opened on its own is a document: no scripts, no fetches, only its own inline styles.
SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}
_MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


@router.get("/measures", response_model=MeasuresOut)
async def measures(
    workspace: str,
    by: By = Query("item", description="Per item or per model line."),
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> MeasuresOut:
    """Days of supply, SVA, days to turn, aged stock, allocation use and mix gap in the newest snapshot's week, by
    key (one row per key, so a page never repeats or skips one)."""
    data = await service.load_data(session, principal.workspace_id)
    period, rows = service.latest(data, by)
    shown = sorted(rows, key=lambda row: row.key)[asked.offset : asked.offset + asked.limit]
    return MeasuresOut(
        items=[KeyMeasuresOut.of(row) for row in shown],
        total=len(rows),
        limit=asked.limit,
        offset=asked.offset,
        by=by,
        period=period,
        recommendation_run_id=data.plan_id,
    )


@router.get("/measures/history", response_model=MeasureHistoryOut)
async def measure_history(
    workspace: str,
    key: str = Query(..., min_length=1, max_length=100, description="An item key, or a model line with by=line."),
    by: By = Query("item"),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> MeasureHistoryOut:
    """One item's or line's measures week by week, oldest first."""
    data = await service.load_data(session, principal.workspace_id)
    points = [HistoryPointOut.of(point) for point in service.history(data, by, key)]
    return MeasureHistoryOut(by=by, key=key, points=points)


@router.get(
    "/plots/{chart}",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}, "application/json": {}}}},
)
async def plot(
    workspace: str,
    chart: str = PathParam(
        ...,
        pattern=CHART_FILE,
        description="forecast, recommendation, days-of-supply or learning, then .png, .svg or .json (Plotly).",
    ),
    item: str | None = Query(None, min_length=1, max_length=100, description="The item (forecast chart only)."),
    run_id: uuid.UUID | None = Query(None, description="A forecast run (forecast) or recommendation run."),
    by: By = Query("item", description="Days-of-supply chart: per item or per model line."),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Response:
    """A chart of the newest runs as PNG, SVG, or the Plotly figure the console draws."""
    name, fmt = chart.rsplit(".", 1)
    kind = cast(charts.ChartName, name)  # the path pattern admits only the four names
    drawn = await charts.build_chart(session, principal.workspace_id, kind, item=item, run_id=run_id, by=by)
    if fmt == "json":
        return JSONResponse(plotly_figure(drawn))
    data = await charts.render(drawn, "png" if fmt == "png" else "svg")
    return Response(data, media_type=_MEDIA[fmt], headers=SVG_HEADERS if fmt == "svg" else None)


@router.get("/reports/latest.pdf", responses={200: {"content": {"application/pdf": {}}}})
async def latest_report(
    workspace: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> Response:
    """The newest plan as a PDF: its order table with reasons, each item's measures and the charts."""
    pdf = await charts.report_pdf(session, principal.workspace_id, title=f"Order recommendation: {workspace}")
    headers = {"Content-Disposition": 'attachment; filename="planner-report.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)
