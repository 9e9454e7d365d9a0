"""`opsdesk plan report`, run as a user runs it: a subprocess writing the newest plan's PDF and chart PNGs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsdesk.app.context import AppContext
from opsdesk.jobs import registry
from opsdesk.jobs.worker import run_pending
from opsdesk.planner.demo.load import load_dealership
from opsdesk.planner.runs import forecasts, recommendations
from opsdesk.planner.runs import tasks as planner_tasks
from tests.conftest import Tenant

SKUS = {"EXP-XLT-RWD", "MAV-XLT-AWD", "MAV-LOBO-FWD"}


def _report(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "OPSDESK_DATABASE_URL": database_url,
        "OPSDESK_DATA_DIR": str(tmp_path),
        "OPSDESK_SECRET_KEY": "cli-test-secret-key-long-enough-for-hs256",
        "OPSDESK_LOG_LEVEL": "WARNING",
        "OPSDESK_LOCAL_LLM_ENABLED": "false",
    }
    command = [sys.executable, "-m", "opsdesk.cli", "plan", "report", "--workspace", "acme", *args]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # a fresh interpreter starts the whole app: about 10 s
async def test_without_a_plan_the_report_is_a_clear_error(database_url: str, tenant: Tenant, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    result = _report(database_url, tmp_path, "--out", str(out))
    assert result.returncode == 1 and "No recommendation yet" in result.stderr
    assert not out.exists()


@pytest.mark.slow
async def test_the_report_and_its_charts_are_written(
    database_url: str, ctx: AppContext, tenant: Tenant, tmp_path: Path
) -> None:
    async with ctx.db.session() as session:
        assert (await load_dealership(session, tenant.workspace_id, skus=SKUS)).applied
        await forecasts.start_forecast(session, tenant.workspace_id)
    task = registry.find(forecasts.FORECAST_TASK)
    assert task is not None and planner_tasks.forecast is not None
    await run_pending(ctx, tasks={forecasts.FORECAST_TASK: task})
    async with ctx.db.session() as session:
        await recommendations.recommend(session, tenant.workspace_id)

    out, charts = tmp_path / "report.pdf", tmp_path / "charts"
    result = _report(database_url, tmp_path, "--out", str(out), "--png-dir", str(charts))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    written = {path.name: path.read_bytes() for path in charts.iterdir()}
    assert set(written) == {"recommendation.png", "days-of-supply.png", "forecast.png"}
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in written.values())
