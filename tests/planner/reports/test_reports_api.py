"""Planner measures, charts and the PDF report over HTTP: measures agree with a hand count on a tiny lot, each chart
comes in the format asked for, nothing is drawn before there is data, and a viewer reads it all."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.jobs import registry
from opsdesk.jobs.worker import run_pending
from opsdesk.planner.demo.columns import ALLOCATIONS, COLUMNS, FEEDBACK, INVENTORY, ITEMS, SALES
from opsdesk.planner.demo.dealership import csv_bytes
from opsdesk.planner.demo.load import load_dealership
from opsdesk.planner.imports.schemas import ImportOptions, UploadedFile
from opsdesk.planner.imports.service import import_files
from opsdesk.planner.runs import tasks as planner_tasks
from opsdesk.planner.runs.forecasts import FORECAST_TASK
from opsdesk.planner.runs.models import LearningCycleRow
from tests.conftest import Tenant
from tests.support.paging import assert_pages_through

PNG = b"\x89PNG\r\n\x1a\n"
SKUS = {"EXP-XLT-RWD", "EXP-ST-4WD", "MAV-XLT-AWD", "MAV-LAR-AWD", "MAV-LOBO-FWD"}
WEEKS = [date(2024, 1, 1) + timedelta(weeks=n) for n in range(6)]  # Mondays; the last week is 2024-02-05


def _base(tenant: Tenant) -> str:
    return f"/api/v1/workspaces/{tenant.slug}/planner"


def _tiny_lot() -> list[UploadedFile]:
    """Two Alpha items and a Beta item that never sold; snapshots close the weeks of 29 Jan and 5 Feb."""
    items = [
        (sku, line, "Base", "", "10000.00", "11000.00", 1, 1, 2)
        for sku, line in (("A1", "Alpha"), ("A2", "Alpha"), ("B1", "Beta"))
    ]
    sold = {"A1": (2, 2, 2, 2, 4, 4), "A2": (1, 0, 1, 0, 1, 1)}
    sales = [
        (week.isoformat(), sku, n, "11000.00", "")
        for sku, counts in sold.items()
        for week, n in zip(WEEKS, counts, strict=True)
    ]
    inventory = [
        ("2024-02-05", "A1-1", "A1", 5, ""),
        ("2024-02-05", "A1-2", "A1", 6, ""),
        ("2024-02-05", "A1-3", "A1", 7, ""),
        ("2024-02-05", "A2-1", "A2", 8, ""),
        ("2024-02-05", "B1-1", "B1", 88, ""),
        ("2024-02-05", "B1-2", "B1", "", ""),
        ("2024-02-12", "A1-1", "A1", 10, ""),
        ("2024-02-12", "A1-2", "A1", 40, ""),
        ("2024-02-12", "A1-3", "A1", 70, ""),
        ("2024-02-12", "A1-4", "A1", 100, ""),
        ("2024-02-12", "B1-1", "B1", 95, ""),
        ("2024-02-12", "B1-2", "B1", "", ""),
    ]
    feedback = [
        ("A1", "2024-01-08", 2, 2, 2, "2000.00", "100.0"),  # before the trailing four weeks
        ("A1", "2024-01-29", 2, 2, 2, "2000.00", "20.0"),
        ("A1", "2024-02-05", 3, 3, 4, "4000.00", "35.0"),
        ("A2", "2024-02-05", 1, 1, 1, "1000.00", ""),
    ]
    allocations = [("2024-02-05", "Alpha", 6), ("2024-02-05", "Beta", 2)]
    files = {ITEMS: items, SALES: sales, INVENTORY: inventory, FEEDBACK: feedback, ALLOCATIONS: allocations}
    kinds = {ITEMS: "items", SALES: "sales", INVENTORY: "inventory", FEEDBACK: "feedback", ALLOCATIONS: "allocations"}
    return [
        UploadedFile(kind=kinds[name], file_name=name, data=csv_bytes(COLUMNS[name], rows))  # type: ignore[arg-type]
        for name, rows in files.items()
    ]


async def _load_tiny(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    async with ctx.db.session() as session:
        report = await import_files(
            session, tenant.workspace_id, _tiny_lot(), options=ImportOptions(today=date(2024, 3, 1))
        )
    assert report.applied, report.problems[:5]
    mix = [{"line": "Alpha", "min_share": 0.5, "max_share": 0.9}, {"line": "Beta", "min_share": 0.0, "max_share": 0.5}]
    saved = await client.put(f"{_base(tenant)}/constraints", json={"mix": mix}, headers=tenant.headers())
    assert saved.status_code == 200, saved.text


async def _measures(client: httpx.AsyncClient, tenant: Tenant, by: str) -> dict[str, dict[str, Any]]:
    response = await client.get(f"{_base(tenant)}/measures?by={by}", headers=tenant.headers(Role.viewer))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["period"] == "2024-02-05" and body["definitions"]["sales_velocity"]
    return {row["key"]: row for row in body["items"]}


async def test_item_measures_match_a_hand_count(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    await _load_tiny(client, ctx, tenant)
    items = await _measures(client, tenant, "item")
    a1, a2, b1 = items["A1"], items["A2"], items["B1"]
    # A1 sold 4 in the week, 3 on the lot before it and 4 after; 2+2+4+4 in the last 4 weeks is 3 a week.
    assert (a1["sold"], a1["stock"]) == (4, 4)
    assert a1["sales_velocity"] == pytest.approx(4 / 3.5)
    assert a1["days_of_supply"] == pytest.approx(4 / (3 / 7))
    assert a1["days_to_turn"] == pytest.approx((2 * 20 + 4 * 35) / 6)  # the 100-day week is older than 4 weeks
    assert a1["aged_stock"] == {"0-30": 1, "31-60": 1, "61-90": 1, "91+": 1} and a1["unknown_age"] == 0
    # A2 sold its last unit: no stock, no supply; its feedback has no days to turn.
    assert (a2["stock"], a2["sales_velocity"], a2["days_of_supply"]) == (0, 2.0, 0)
    assert a2["days_to_turn"] is None
    # B1 never sold: stock without sales has unbounded supply, shown as null and flagged, never a number.
    assert b1["sales_velocity"] == 0 and b1["days_of_supply"] is None and b1["no_recent_sales"] is True
    assert b1["aged_stock"]["91+"] == 1 and b1["unknown_age"] == 1
    assert all(row["mix"] is None and row["allocation"] is None for row in items.values())


async def test_item_measures_are_listed_by_key_a_page_at_a_time(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    await _load_tiny(client, ctx, tenant)

    await assert_pages_through(
        client, f"{_base(tenant)}/measures", tenant.headers(Role.viewer), key="key", expected=["A1", "A2", "B1"]
    )
    second = await client.get(f"{_base(tenant)}/measures", params={"limit": 2, "offset": 2}, headers=tenant.headers())
    assert second.json()["period"] == "2024-02-05" and second.json()["by"] == "item"


async def test_line_measures_add_up_items_and_show_the_mix_gap(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    await _load_tiny(client, ctx, tenant)
    lines = await _measures(client, tenant, "line")
    alpha, beta = lines["Alpha"], lines["Beta"]
    assert (alpha["sold"], alpha["stock"]) == (5, 4)
    assert alpha["sales_velocity"] == pytest.approx(5 / 4)
    assert alpha["days_of_supply"] == pytest.approx(4 / (15 / 4 / 7))
    assert alpha["mix"]["share"] == pytest.approx(4 / 6) and alpha["mix"]["target_share"] == pytest.approx(0.7)
    assert alpha["mix"]["gap_units"] == pytest.approx(4 - 0.7 * 6)
    assert beta["mix"]["gap_share"] == pytest.approx(2 / 6 - 0.25) and beta["mix"]["max_share"] == 0.5


async def test_history_shows_stock_only_in_snapshot_weeks_and_allocation_use(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    await _load_tiny(client, ctx, tenant)
    viewer = tenant.headers(Role.viewer)
    response = await client.get(f"{_base(tenant)}/measures/history?key=A1", headers=viewer)
    assert response.status_code == 200, response.text
    points = {p["period"]: p for p in response.json()["points"]}
    assert list(points) == [week.isoformat() for week in WEEKS]
    assert all(points[w.isoformat()]["stock"] is None for w in WEEKS[:4]), "no snapshot closes those weeks"
    assert points["2024-01-29"]["sales_velocity"] == pytest.approx(4 / 3), "no opening count: closing stock alone"
    assert points["2024-01-08"]["days_to_turn"] == 100
    line = await client.get(f"{_base(tenant)}/measures/history?by=line&key=Alpha", headers=viewer)
    last = line.json()["points"][-1]
    assert (last["ordered"], last["allocated"]) == (4, 6) and last["allocation_use"] == pytest.approx(4 / 6)
    unknown = await client.get(f"{_base(tenant)}/measures/history?key=NOPE", headers=viewer)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "no_such_key"


async def test_nothing_is_measured_or_drawn_before_there_is_data(client: httpx.AsyncClient, tenant: Tenant) -> None:
    viewer = tenant.headers(Role.viewer)
    for path in (
        "/measures",
        "/measures/history?key=A1",
        "/plots/forecast.png?item=A1",
        "/plots/recommendation.svg",
        "/plots/days-of-supply.json",
        "/plots/learning.png",
        "/reports/latest.pdf",
    ):
        response = await client.get(f"{_base(tenant)}{path}", headers=viewer)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["message"], path


async def test_bad_chart_names_formats_and_parameters_are_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    viewer = tenant.headers(Role.viewer)
    for path in ("/plots/pie.png", "/plots/forecast.gif", "/plots/forecast", "/measures?by=store", "/measures/history"):
        assert (await client.get(f"{_base(tenant)}{path}", headers=viewer)).status_code == 422, path
    assert (await client.get(f"{_base(tenant)}/plots/forecast.png", headers=viewer)).status_code == 400


async def _add_learning_cycle(ctx: AppContext, tenant: Tenant) -> None:
    async with ctx.db.session() as session:
        details = {
            "holdout_periods": ["2024-01-29", "2024-02-05"],
            "before_by_period": [40.0, 60.0],
            "after_by_period": [55.0, 75.0],
        }
        session.add(
            LearningCycleRow(
                workspace_id=tenant.workspace_id,
                accepted=True,
                reason="held-out gain",
                old_weights={"margin": 1.0, "holding": 1.0},
                new_weights={"margin": 1.2, "holding": 1.0},
                objective_before=100.0,
                objective_after=130.0,
                details=details,
            )
        )


async def _check_formats(client: httpx.AsyncClient, tenant: Tenant, chart: str, query: str = "") -> dict[str, Any]:
    """The chart as PNG, SVG (served as an inert document) and a Plotly figure with data; returns the figure."""
    viewer = tenant.headers(Role.viewer)
    png = await client.get(f"{_base(tenant)}/plots/{chart}.png{query}", headers=viewer)
    assert png.status_code == 200, (chart, png.text)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(PNG)
    svg = await client.get(f"{_base(tenant)}/plots/{chart}.svg{query}", headers=viewer)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert svg.headers["x-content-type-options"] == "nosniff"
    assert ET.fromstring(svg.content).tag == "{http://www.w3.org/2000/svg}svg"
    response = await client.get(f"{_base(tenant)}/plots/{chart}.json{query}", headers=viewer)
    assert response.headers["content-type"] == "application/json"
    figure: dict[str, Any] = response.json()
    assert figure["data"] and any(trace.get("y") for trace in figure["data"]), chart
    return figure


async def test_measure_and_learning_charts_come_in_each_format(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    await _load_tiny(client, ctx, tenant)
    await _add_learning_cycle(ctx, tenant)
    supply = await _check_formats(client, tenant, "days-of-supply")
    bars = next(trace for trace in supply["data"] if trace.get("type") == "bar")
    assert dict(zip(bars["x"], bars["y"], strict=True)) == {
        "A1": pytest.approx(4 / (3 / 7)),
        "A2": 0,
        "B1 (no sales)": None,
    }
    learning = await _check_formats(client, tenant, "learning")
    before = next(trace for trace in learning["data"] if trace.get("name", "").startswith("Before"))
    assert before["x"] == ["2024-02-05"] and before["y"] == [100.0]
    lines = await _check_formats(client, tenant, "days-of-supply", "?by=line")
    assert {x for trace in lines["data"] for x in trace["x"]} >= {"Alpha", "Beta (no sales)"}


@pytest.mark.slow
async def test_forecast_and_plan_charts_and_the_pdf_report(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    async with ctx.db.session() as session:
        assert (await load_dealership(session, tenant.workspace_id, skus=SKUS)).applied
    started = await client.post(f"{_base(tenant)}/forecasts", json={"horizon": 8}, headers=tenant.headers())
    assert started.status_code == 202, started.text
    task = registry.find(FORECAST_TASK)
    assert task is not None and planner_tasks.forecast is not None
    await run_pending(ctx, tasks={FORECAST_TASK: task})
    created = await client.post(f"{_base(tenant)}/recommendations", json={}, headers=tenant.headers())
    assert created.status_code == 201, created.text
    plan = created.json()
    await _add_learning_cycle(ctx, tenant)
    viewer = tenant.headers(Role.viewer)
    item = sorted(SKUS)[0]

    forecast = await _check_formats(client, tenant, "forecast", f"?item={item}")
    traces = {trace.get("name"): trace for trace in forecast["data"]}
    assert len(traces["Forecast"]["y"]) == 8 and len(traces["Sales"]["y"]) == 52
    bars = await _check_formats(client, tenant, "recommendation")
    ordered = {line["item_key"]: line["quantity"] for line in plan["lines"]}
    order_trace = next(t for t in bars["data"] if t.get("name") == "Recommended order")
    assert dict(zip(order_trace["x"], order_trace["y"], strict=True)) == ordered
    missing = await client.get(f"{_base(tenant)}/plots/forecast.png?item=NOPE", headers=viewer)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_series"

    lines = await _measures_of_plan(client, tenant)
    for model_line, row in lines.items():
        planned = sum(line["quantity"] for line in plan["lines"] if line["model_line"] == model_line)
        assert row["allocation"]["planned"] == planned
        assert row["allocation"]["use"] == pytest.approx(planned / plan["constraints"]["allocation"][model_line])

    report = await client.get(f"{_base(tenant)}/reports/latest.pdf", headers=viewer)
    assert report.status_code == 200 and report.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(report.content)).pages)
    assert "Recommended order" in text and "Measures" in text and item in text
    assert "Learning cycles" in text and "Demand forecast: total" in text


async def _measures_of_plan(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, dict[str, Any]]:
    response = await client.get(f"{_base(tenant)}/measures?by=line", headers=tenant.headers(Role.viewer))
    assert response.status_code == 200, response.text
    return {row["key"]: row for row in response.json()["items"]}
