"""Planner: the latest forecast as a chart with its 80/95 % bands, the latest plan with each line's reason, and a
what-if that re-solves the plan with another lot space or budget and shows what moved. Starting runs, learning and
the plan's workbook are in `planner_runs`."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Form
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from opsdesk.auth.service import Principal
from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.planner.runs import forecasts, recommendations
from opsdesk.planner.runs.models import SeriesForecastRow
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.pages.planner_runs import DONE, newest_forecast, recent_cycles
from opsdesk.web.templating import render, render_fragment

router = page_router()


def chart_of(row: SeriesForecastRow) -> dict[str, Any]:
    """What console.js hands to Plotly: the mean and both bands of one stored series."""
    values = row.values
    return {
        "title": f"{row.key} — {row.model}",
        "x": values["ds"],
        **{name: values[name] for name in ("mean", "lo80", "hi80", "lo95", "hi95")},
    }


async def _forecast(db: AsyncSession, workspace_id: uuid.UUID, key: str | None) -> dict[str, Any]:
    try:
        run = await forecasts.latest_run(db, workspace_id)
    except NotFound:
        return {"forecast": None}
    rows = await forecasts.series_of(db, run.id, level=None)
    choices = [(row.level, row.key) for row in rows]
    default = next((row for row in rows if row.level == "total"), rows[0] if rows else None)
    chosen = next((row for row in rows if row.key == key), default)
    return {
        "forecast": {
            "run_id": run.id,
            "horizon": run.horizon,
            "freq": run.freq,
            "finished_at": run.finished_at,
            "series": choices,
            "selected": chosen.key if chosen else None,
            "chart": chart_of(chosen) if chosen else None,
            "model": chosen.model if chosen else None,
            "backtest_mase": chosen.backtest_mase if chosen else None,
        }
    }


def _line(line: Any) -> dict[str, Any]:
    return {
        "item_key": line.item_key,
        "model_line": line.model_line,
        "quantity": line.quantity,
        "on_hand": line.target.get("on_hand"),
        "expected_demand": line.target.get("expected_demand"),
        "cost": line.cost,
        "reason": line.reason,
    }


async def _plan(db: AsyncSession, workspace_id: uuid.UUID) -> dict[str, Any]:
    try:
        run = await recommendations.latest_recommendation(db, workspace_id)
    except NotFound:
        return {"plan": None}
    lines = await recommendations.lines_of(db, run.id)
    return {
        "plan": {
            "run_id": run.id,
            "status": run.status,
            "totals": run.totals,
            "constraints": {k: run.constraints.get(k) for k in ("lot_space", "budget")},
            "infeasibility": run.infeasibility,
            "lines": [_line(line) for line in lines],
        }
    }


async def page_data(c: Console, principal: Principal, item: str | None) -> dict[str, Any]:
    async with c.ctx.db.session() as db:
        return {
            **await _forecast(db, principal.workspace_id, item),
            **await _plan(db, principal.workspace_id),
            "run": await newest_forecast(db, principal.workspace_id),
            "cycles": await recent_cycles(db, principal.workspace_id),
            "flash": DONE.get(c.request.query_params.get("done", ""), ""),
        }


@router.get("/planner")
async def planner_page(item: str | None = None, c: Console = PageConsole) -> Response:
    """Forecast chart (pick a series), the plan's lines with reasons, and the what-if form for those who may write."""
    c.plots = True
    return render(c, "planner.html", {**await page_data(c, c.signed_in_principal, item), "what_if": None})


def _number(raw: str, name: str) -> float | None:
    if not raw.strip():
        return None
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        raise InvalidInput(f"{name} must be a number.", code="invalid_value") from None
    if value < 0:
        raise InvalidInput(f"{name} must not be negative.", code="invalid_value")
    return value


@router.post("/planner/what-if")
async def what_if(
    run_id: uuid.UUID = Form(...),
    lot_space: str = Form("", max_length=20),
    budget: str = Form("", max_length=20),
    c: Console = PageConsole,
) -> Response:
    """Re-solves the plan with the changed limits (the same service as POST …/what-if) and lists the lines that move."""
    principal = c.signed_in_principal
    changes = {k: v for k, v in (("lot_space", _number(lot_space, "Lot space")), ("budget", _number(budget, "Budget")))
               if v is not None}  # fmt: skip
    if not changes:
        raise InvalidInput("Give a lot space or a budget to try.", code="no_changes")
    async with c.ctx.db.session() as db:
        what_if = await recommendations.what_if(db, principal.workspace_id, run_id, changes, str(principal.subject_id))
        base, changed = what_if.base, what_if.changed
        reasons = {line.item_key: line.reason for line in await recommendations.lines_of(db, changed.id)}
        moved = [
            {"item_key": key, "before": before, "after": after, "reason": reasons[key]}
            for key, before, after in what_if.moved
        ]
        result = {
            "changes": changes,
            "status": changed.status,
            "moved": moved,
            "units_before": int(base.totals.get("units", 0)),
            "units_after": int(changed.totals.get("units", 0)),
            "cost_after": float(changed.totals.get("cost", 0.0)),
            "message": (changed.infeasibility or {}).get("message"),
        }
    if c.request.headers.get("hx-request"):
        return render_fragment(c, "planner_what_if.html", {"what_if": result})
    c.plots = True
    return render(c, "planner.html", {**await page_data(c, principal, None), "what_if": result})
