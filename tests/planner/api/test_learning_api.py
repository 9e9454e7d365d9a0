"""Learning cycles over HTTP: the feedback is learned from, the held-out change is recorded, and only a significant
gain replaces the weights every recommendation plans with."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import httpx
import numpy as np

from opsdesk.app.context import AppContext
from opsdesk.planner.demo.columns import COLUMNS, FEEDBACK, ITEMS, SALES
from opsdesk.planner.demo.dealership import csv_bytes
from opsdesk.planner.demo.load import load_dealership
from opsdesk.planner.imports.schemas import UploadedFile
from tests.conftest import Tenant

GROWTH = 1.0815  # a week's sales are 1.4 x the mean of the 8 weeks before: the trailing forecast is always 40 % low
WARM_UP_WEEKS = 8
FEEDBACK_WEEKS = 24
GROWING = ("GRW-A", "GRW-B", "GRW-C")


def _base(tenant: Tenant) -> str:
    return f"/api/v1/workspaces/{tenant.slug}/planner"


def _growing_files() -> list[UploadedFile]:
    """Three items whose sales grow 8 % a week, every week, with a little noise; a year's margin of 1,500 a unit."""
    rng = np.random.default_rng(7)
    start = date(2024, 1, 1)
    items = [(sku, "Growing", "Base", "", "20000.00", "21500.00", 1, 1, 1) for sku in GROWING]
    sales: list[tuple[object, ...]] = []
    feedback: list[tuple[object, ...]] = []
    for n, sku in enumerate(GROWING):
        for week in range(WARM_UP_WEEKS + FEEDBACK_WEEKS):
            day = start + timedelta(weeks=week)
            sold = round((4 + 2 * n) * GROWTH**week * rng.uniform(0.95, 1.05))
            sales.append((day.isoformat(), sku, sold, "21500.00", f"{sold * 1500:.2f}"))
            if week >= WARM_UP_WEEKS:
                feedback.append((sku, day.isoformat(), sold, sold, sold, f"{sold * 1500:.2f}", "10.0"))
    return [
        UploadedFile(kind="items", file_name="items.csv", data=csv_bytes(COLUMNS[ITEMS], items)),
        UploadedFile(kind="sales", file_name="sales.csv", data=csv_bytes(COLUMNS[SALES], sales)),
        UploadedFile(kind="feedback", file_name="feedback.csv", data=csv_bytes(COLUMNS[FEEDBACK], feedback)),
    ]


async def _learn(client: httpx.AsyncClient, tenant: Tenant, **headers: str) -> dict[str, Any]:
    response = await client.post(f"{_base(tenant)}/learning-cycles", headers={**tenant.headers(), **headers})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _weights(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, Any]:
    cycles = (await client.get(f"{_base(tenant)}/learning-cycles", headers=tenant.headers())).json()
    return dict(cycles)


async def test_a_cycle_on_the_demo_feedback_is_recorded_with_its_measured_change(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    async with ctx.db.session() as session:
        report = await load_dealership(session, tenant.workspace_id)
    assert report.applied, report.problems[:5]

    cycle = await _learn(client, tenant)
    details = cycle["details"]
    assert len(details["holdout_periods"]) == 8 and details["train_periods"]["count"] >= 8
    assert details["cells_used"] > 0 and len(details["before_by_period"]) == 8
    assert math.isclose(cycle["objective_before"], sum(details["before_by_period"]), rel_tol=1e-9)
    assert math.isclose(cycle["objective_after"], sum(details["after_by_period"]), rel_tol=1e-9)
    assert cycle["reason"].startswith("accepted" if cycle["accepted"] else "rejected")
    assert cycle["old_weights"] == {"margin": 1.0, "holding": 1.0, "shortage": 1.0, "item_bias": {}}

    listed = (await client.get(f"{_base(tenant)}/learning-cycles", headers=tenant.headers())).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == cycle["id"]
    again = await _learn(client, tenant)
    expected = cycle["new_weights"] if cycle["accepted"] else cycle["old_weights"]
    assert again["old_weights"] == expected, "the next cycle starts from the weights the first one left in force"
