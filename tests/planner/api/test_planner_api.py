"""The planner over HTTP: import a dealer's files, forecast in a background job, recommend under constraints with
a reason per line, ask what-if, export the plan, and refuse what a role may not do."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.jobs import registry
from opsdesk.jobs.worker import run_pending
from opsdesk.planner.demo import dealership_files
from opsdesk.planner.demo.load import KINDS, load_dealership
from opsdesk.planner.runs import tasks as planner_tasks
from opsdesk.planner.runs.forecasts import FORECAST_TASK
from opsdesk.planner.runs.models import ForecastRun, SeriesForecastRow
from tests.conftest import Tenant
from tests.support.paging import assert_pages_through

# Two model lines keep the job quick while still exercising allocation, mix and lot space across lines.
SKUS = {"EXP-XLT-RWD", "EXP-ST-4WD", "MAV-XLT-AWD", "MAV-LAR-AWD", "MAV-LOBO-FWD"}


def _on_order(data: bytes) -> dict[str, int]:
    """Units expected per item from the snapshot's week on, counted straight from the demo's file."""
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    totals: dict[str, int] = {}
    for row in rows:
        if row["sku"] in SKUS and row["expected_week"] >= "2026-11-30":
            totals[row["sku"]] = totals.get(row["sku"], 0) + int(row["quantity"])
    return totals


def _base(tenant: Tenant) -> str:
    return f"/api/v1/workspaces/{tenant.slug}/planner"


async def _load_demo(ctx: AppContext, tenant: Tenant) -> None:
    async with ctx.db.session() as session:
        report = await load_dealership(session, tenant.workspace_id, skus=SKUS)
    assert report.applied, report.problems[:5]


async def _forecast(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> dict[str, Any]:
    started = await client.post(f"{_base(tenant)}/forecasts", json={"horizon": 8}, headers=tenant.headers())
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    task = registry.find(FORECAST_TASK)
    assert task is not None and planner_tasks.forecast is not None
    await run_pending(ctx, tasks={FORECAST_TASK: task})
    run = (await client.get(f"{_base(tenant)}/forecasts/{started.json()['id']}", headers=tenant.headers())).json()
    assert run["status"] == "succeeded", run
    return dict(run)


@pytest.mark.slow
async def test_a_dealer_goes_from_files_to_an_explained_order_plan(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    await _load_demo(ctx, tenant)
    run = await _forecast(client, ctx, tenant)
    assert run["series"] == len(SKUS) and run["progress"]["done"] == run["progress"]["total"]
    assert run["reconciliation"] == "mintrace_wls_struct"

    series = (await client.get(f"{_base(tenant)}/forecasts/{run['id']}/series", headers=tenant.headers())).json()
    assert series["total"] == len(SKUS)
    series = series["items"]
    assert {s["key"] for s in series} == SKUS
    for one in series:
        values = one["values"]
        assert len(values["mean"]) == 8 and one["model"]
        assert all(lo <= m <= hi for lo, m, hi in zip(values["lo95"], values["mean"], values["hi95"], strict=True))
    lines = await client.get(f"{_base(tenant)}/forecasts/{run['id']}/series?level=line", headers=tenant.headers())
    by_line = {s["key"]: s["values"]["mean"] for s in lines.json()["items"]}
    item_means = [s["values"]["mean"] for s in series if s["key"].startswith("MAV")]
    assert by_line["Maverick"] == pytest.approx([sum(week) for week in zip(*item_means, strict=True)], abs=1e-3)
    total = await client.get(f"{_base(tenant)}/forecasts/{run['id']}/series?level=total", headers=tenant.headers())
    (everything,) = total.json()["items"]
    all_lines = [by_line[line] for line in by_line]
    assert everything["values"]["mean"] == pytest.approx([sum(w) for w in zip(*all_lines, strict=True)], abs=1e-3)

    plan = await client.post(f"{_base(tenant)}/recommendations", json={}, headers=tenant.headers())
    assert plan.status_code == 201, plan.text
    body = plan.json()
    assert body["status"] in ("optimal", "feasible", "infeasible")
    assert {line["item_key"] for line in body["lines"]} == SKUS
    for line in body["lines"]:
        assert line["reason"] and line["target"]["target"] >= 0
    expected = _on_order(dealership_files()["on_order.csv"])
    assert {line["item_key"]: line["target"]["on_order"] for line in body["lines"]} == {
        sku: expected.get(sku, 0) for sku in SKUS
    }
    allocation = body["constraints"]["allocation"]
    for model_line in ("Explorer", "Maverick"):
        ordered = sum(line["quantity"] for line in body["lines"] if line["model_line"] == model_line)
        assert ordered <= allocation[model_line] or body["status"] == "infeasible"

    tighter = await client.post(
        f"{_base(tenant)}/recommendations/{body['id']}/what-if",
        json={"changes": {"budget": 50_000}},
        headers=tenant.headers(),
    )
    assert tighter.status_code == 201, tighter.text
    changed = tighter.json()
    assert changed["base_run_id"] == body["id"] and changed["summary"]
    assert changed["run"]["totals"]["cost"] <= 50_000 or changed["run"]["status"] == "infeasible"

    export = await client.get(f"{_base(tenant)}/recommendations/{body['id']}/export.xlsx", headers=tenant.headers())
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    assert not any(isinstance(c.value, str) and c.value.startswith("=") for row in sheet.iter_rows() for c in row)


async def test_conflicting_constraints_are_named_with_a_relaxation_not_a_crash(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    await _load_demo(ctx, tenant)
    await _forecast(client, ctx, tenant)
    impossible = {"budget": 1_000, "min_days_of_supply": 365, "lot_space": 500}
    plan = await client.post(
        f"{_base(tenant)}/recommendations", json={"constraints": impossible}, headers=tenant.headers()
    )
    assert plan.status_code == 201, plan.text
    body = plan.json()
    assert body["status"] == "infeasible"
    assert body["infeasibility"]["conflicting"] and body["infeasibility"]["relaxations"]
    assert body["lines"], "an infeasible plan still shows the plan under its smallest relaxation"


async def test_a_runs_series_are_listed_by_key_a_page_at_a_time(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    keys = ["ITEM-A", "ITEM-B", "ITEM-C", "ITEM-D", "ITEM-E"]
    values = {"ds": ["2026-12-07"], "mean": [1.0], "lo80": [0.5], "hi80": [1.5], "lo95": [0.0], "hi95": [2.0]}
    async with ctx.db.session() as session:
        run = ForecastRun(workspace_id=tenant.workspace_id, status="succeeded", series=len(keys))
        session.add(run)
        await session.flush()
        for level, key in [*(("item", k) for k in reversed(keys)), ("line", "Line"), ("total", "total")]:
            row = SeriesForecastRow(run_id=run.id, workspace_id=tenant.workspace_id, level=level, key=key,
                                    model="Naive", pattern="smooth", values=values)  # fmt: skip
            session.add(row)
    url = f"{_base(tenant)}/forecasts/{run.id}/series"

    await assert_pages_through(client, url, tenant.headers(Role.viewer), key="key", expected=keys)
    lines = await client.get(url, params={"level": "line"}, headers=tenant.headers(Role.viewer))
    assert [s["key"] for s in lines.json()["items"]] == ["Line"] and lines.json()["total"] == 1


async def test_a_viewer_reads_but_cannot_import_forecast_or_recommend(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    viewer = tenant.headers(Role.viewer)
    files = {"file": ("items.csv", dealership_files()["items.csv"], "text/csv")}
    refused = await client.post(f"{_base(tenant)}/imports", data={"kind": "items"}, files=files, headers=viewer)
    assert refused.status_code == 403
    assert (await client.post(f"{_base(tenant)}/forecasts", json={}, headers=viewer)).status_code == 403
    assert (await client.post(f"{_base(tenant)}/recommendations", json={}, headers=viewer)).status_code == 403
    assert (await client.get(f"{_base(tenant)}/constraints", headers=viewer)).status_code == 200


async def test_bad_requests_get_clear_errors(client: httpx.AsyncClient, tenant: Tenant) -> None:
    admin = tenant.headers()
    no_sales = await client.post(f"{_base(tenant)}/forecasts", json={}, headers=admin)
    assert no_sales.status_code == 400 and no_sales.json()["error"]["code"] == "no_sales"
    assert (await client.post(f"{_base(tenant)}/forecasts", json={"horizon": 0}, headers=admin)).status_code == 422
    no_forecast = await client.post(f"{_base(tenant)}/recommendations", json={}, headers=admin)
    assert no_forecast.status_code == 404
    bad = await client.put(f"{_base(tenant)}/constraints", json={"budget": -5}, headers=admin)
    assert bad.status_code == 422
    files = {"file": ("sales.csv", b"date,sku,quantity\n2024-01-01,NOPE,-3\n", "text/csv")}
    report = await client.post(f"{_base(tenant)}/imports", data={"kind": "sales"}, files=files, headers=admin)
    assert report.status_code == 200 and report.json()["applied"] is False
    assert report.json()["problems"]


async def test_an_upload_through_the_api_is_imported_once(client: httpx.AsyncClient, tenant: Tenant) -> None:
    admin = tenant.headers()
    data = dealership_files()["items.csv"]
    for attempt in range(2):
        files = {"file": ("items.csv", data, "text/csv")}
        report = await client.post(f"{_base(tenant)}/imports", data={"kind": "items"}, files=files, headers=admin)
        assert report.status_code == 200, report.text
        assert report.json()["files"][0]["already_imported"] is (attempt == 1)
    assert set(KINDS.values()) >= {"items", "sales"}


@pytest.mark.parametrize(
    "body",
    [
        {"allocation": {"Bron\u0000co": 3}},
        {"allocation": {"Bronco": -1}},
        {"allocation": {"": 3}},
        {"mix": [{"line": "Bronco", "min_share": 0.5, "max_share": 0.2}]},
        {"mix": [{"line": "Bron\u0000co"}]},
        {"currency": "usd"},
    ],
)
async def test_constraints_that_cannot_be_stored_or_make_no_sense_get_a_422(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]
) -> None:
    response = await client.put(f"{_base(tenant)}/constraints", json=body, headers=tenant.headers())
    assert response.status_code == 422, response.text
