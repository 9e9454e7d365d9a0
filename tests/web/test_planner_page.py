"""The planner's actions in a real browser: start a forecast and watch its progress, download the plan as Excel,
solve it again, learn from the outcomes; a viewer gets none of the buttons and a forged post is refused."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl

from opsdesk.app.context import AppContext
from opsdesk.jobs import registry
from opsdesk.jobs.worker import run_pending
from opsdesk.planner.runs import forecasts
from tests.web.conftest import ConsoleServer, People, sign_in


async def _run_forecasts(ctx: AppContext) -> None:
    task = registry.find(forecasts.FORECAST_TASK)
    assert task is not None
    await run_pending(ctx, tasks={forecasts.FORECAST_TASK: task})


def test_a_forecast_started_from_the_page_shows_its_progress_until_it_finishes(
    page: Any, console: ConsoleServer, people: People
) -> None:
    sign_in(page, console, people.admin, next_path="/planner")
    page.get_by_label("Weeks ahead").fill("6")
    page.get_by_role("button", name="Start a forecast").click()
    page.wait_for_url("**/planner?done=forecast")
    page.get_by_role("status").get_by_text("Forecast queued").wait_for()
    page.get_by_label("Forecast progress").wait_for()  # queued: the page polls the run

    console.call(_run_forecasts, timeout_s=240)  # what a worker does

    page.locator("#forecast-run").get_by_text("Newest forecast: succeeded").wait_for(timeout=30_000)
    assert page.get_by_label("Forecast progress").count() == 0  # polling stopped with the run


def test_the_plan_downloads_as_a_workbook_and_is_solved_again(
    page: Any, console: ConsoleServer, people: People
) -> None:
    sign_in(page, console, people.admin, next_path="/planner")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the plan (Excel)").click()
    assert download.value.suggested_filename.startswith("recommendation-")
    workbook = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert len(rows) >= 2 and all(isinstance(cell, str | int | float | type(None)) for cell in rows[1])

    page.get_by_role("button", name="Solve the plan again").click()
    page.wait_for_url("**/planner?done=recommended")
    page.get_by_role("status").get_by_text("The plan was solved again").wait_for()
    assert len(page.locator("table.plan td.reason").all_text_contents()) == 3


def test_a_learning_cycle_runs_from_the_page_and_is_listed(page: Any, console: ConsoleServer, people: People) -> None:
    sign_in(page, console, people.admin, next_path="/planner")
    page.get_by_role("button", name="Learn from outcomes").click()
    page.wait_for_url("**/planner?done=learned")
    page.get_by_role("status").get_by_text("A learning cycle ran").wait_for()
    table = page.get_by_role("region", name="Learning from outcomes").locator("tbody tr")
    assert table.count() >= 1 and table.first.locator("td.reason").inner_text().strip()


def test_a_viewer_cannot_start_solve_or_learn(page: Any, console: ConsoleServer, people: People) -> None:
    sign_in(page, console, people.viewer, next_path="/planner")
    for button in ("Start a forecast", "Solve the plan again", "Learn from outcomes"):
        assert page.get_by_role("button", name=button).count() == 0
    assert page.get_by_role("link", name="Download the plan (Excel)").count() == 1  # reading is allowed
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    for path in ("/planner/forecast", "/planner/recommend", "/planner/learn"):
        forged = page.request.post(f"{console.url}{path}", form={"csrf_token": token}, headers={"Origin": console.url})
        assert forged.status == 403, path
