"""kill -9 of the process driving a run, inside a side-effect step after its first write: a new process resumes
the run from its checkpoint and the vendors see each write once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from opsdesk.app.context import AppContext
from opsdesk.crew.flow.runtime import CrewFlow
from tests.crew.conftest import CrewWorkspace
from tests.crew.test_flow import SAMPLES, approve_until, load, new_run

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENT = (SAMPLES / "support_tickets.md").read_text()


async def _kill_when(process: subprocess.Popen[bytes], written: str, probe: Callable[[], bool]) -> None:
    """SIGKILL once ``probe()`` is true (the step's first write landed and its next call is held by the vendor)."""
    for _ in range(600):
        if process.poll() is not None:
            raise AssertionError(f"the driver ended by itself: {process.stdout.read() if process.stdout else ''!r}")
        if probe():
            await asyncio.sleep(0.3)  # the driver is now inside the held call
            process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(process.wait, 30)
            return
        await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError(f"{written} never happened")


def _driver(ctx: AppContext, run_id: uuid.UUID) -> subprocess.Popen[bytes]:
    url = ctx.settings.database_url.get_secret_value()  # type: ignore[union-attr]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crew.crash_driver", url, str(ctx.settings.data_dir), str(run_id)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OPSDESK_LOG_LEVEL": "WARNING"},
    )


@pytest.mark.slow
async def test_killed_inside_the_jira_step_the_run_resumes_and_each_issue_is_created_once(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    jira = crew_workspace.vendors.jira
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    assert (await crew_flow.start(run)).gate == "approve_stories"
    jira.faults.delay(r"/rest/agile/1\.0/epic/.+/issue", 120, method="POST")  # holds the step after its bulk create

    await _kill_when(_driver(ctx, run.id), "the bulk create", lambda: bool(jira.writes(r"/issue/bulk")))

    stop = await crew_flow.resume(run.id)
    assert (stop.status, stop.gate) == ("waiting", "approve_design"), stop.detail
    assert len(jira.writes(r"/issue/bulk")) == 1
    steps = [(s["step"], s["status"]) for s in (await load(ctx, run.id)).steps]
    assert ("jira_stories", "interrupted") in steps and ("jira_stories", "completed") in steps


@pytest.mark.slow
async def test_killed_inside_the_gitlab_step_the_run_resumes_and_commits_once(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    gitlab = crew_workspace.vendors.gitlab
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    assert (await approve_until(crew_flow, run.id, "approve_merge")).gate == "approve_merge"
    gitlab.faults.delay(r"/merge_requests$", 120, method="POST")  # holds the step after its commit

    await _kill_when(_driver(ctx, run.id), "the commit", lambda: bool(gitlab.writes(r"/repository/commits")))

    stop = await crew_flow.resume(run.id)
    assert stop.status == "completed", stop.detail
    assert len(gitlab.writes(r"/repository/commits")) == 1
    assert len(gitlab.writes(r"/merge_requests$")) == 1
    pages = crew_workspace.vendors.confluence.writes(r"/rest/api/content$")
    assert len(pages) == len({str(page.body) for page in pages})  # each page created once
