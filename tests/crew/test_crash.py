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
from opsdesk.crew.agents.schemas import Defect, QAReport
from opsdesk.crew.flow.runtime import CrewFlow
from opsdesk.crew.flow.state import Answer
from tests.crew.conftest import CrewWorkspace
from tests.crew.test_flow import SAMPLES, approve_until, load, new_run

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENT = (SAMPLES / "support_tickets.md").read_text()


async def _kill_when(process: subprocess.Popen[bytes], written: str, probe: Callable[[], bool]) -> None:
    """SIGKILL once ``probe()`` is true (the step's first write landed and its next call is held by the vendor).
    The driver gets three minutes to get there: on a loaded machine its start and the QA sandbox alone took 30 s."""
    deadline = asyncio.get_running_loop().time() + 180
    while asyncio.get_running_loop().time() < deadline:
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


def _driver(ctx: AppContext, run_id: uuid.UUID, answer: Answer | None = None) -> subprocess.Popen[bytes]:
    url = ctx.settings.database_url.get_secret_value()  # type: ignore[union-attr]
    extra = [answer.model_dump_json()] if answer is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crew.crash_driver", url, str(ctx.settings.data_dir), str(run_id), *extra],
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


@pytest.mark.slow
async def test_killed_inside_the_confluence_step_the_run_resumes_and_each_page_is_written_once(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    confluence = crew_workspace.vendors.confluence
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    await approve_until(crew_flow, run.id, "approve_merge")
    confluence.faults.delay(r"/rest/api/content$", 120, method="POST", after=1)  # holds the first child page

    await _kill_when(_driver(ctx, run.id), "the run's page", lambda: bool(confluence.writes(r"/rest/api/content$")))

    stop = await crew_flow.resume(run.id)
    assert stop.status == "completed", stop.detail
    created = confluence.writes(r"/rest/api/content$")
    titles = [str(page.body["title"]) for page in created]
    assert len(titles) == len(set(titles)) == len((await load(ctx, run.id)).links["confluence"])  # each once
    assert len(crew_workspace.vendors.gitlab.writes(r"/repository/commits")) == 1


@pytest.mark.slow
async def test_killed_while_filing_defects_the_run_resumes_and_files_each_defect_once(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    jira = crew_workspace.vendors.jira
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    await approve_until(crew_flow, run.id, "approve_tests")
    await crew_flow.answer(run.id, Answer(decision="approve", gate="approve_pipeline"))
    # QA's reviewer records two defects in the report: the flow files them in Jira before the developer's next round
    report = QAReport.model_validate((await load(ctx, run.id)).artefacts["qa"])
    report.defects = [
        Defect(key="D0-1", title="Closing a ticket twice is accepted", description="Expected 409."),
        Defect(key="D0-2", title="Priority is not validated", description="Expected 422 for 'urgent!'."),
    ]
    edit = Answer(decision="edit", artefact=report.model_dump(mode="json"), gate="approve_tests")
    stories = len(jira.writes(r"/issue/bulk"))
    jira.faults.delay(r"/issue/bulk", 120, method="POST", after=1)  # holds the second defect (one create each)

    await _kill_when(_driver(ctx, run.id, edit), "the first defect", lambda: len(jira.writes(r"/issue/bulk")) > stories)

    stop = await crew_flow.resume(run.id)
    assert (stop.status, stop.gates) == ("waiting", ("approve_tests", "approve_pipeline")), stop.detail  # next round
    filed = jira.writes(r"/issue/bulk")[stories:]
    summaries = [str(issue["fields"]["summary"]) for w in filed for issue in w.body["issueUpdates"]]
    assert len(summaries) == 2 and len(set(summaries)) == 2  # each defect once
    assert len((await load(ctx, run.id)).links["defects"]) == 2


@pytest.mark.slow
async def test_killed_inside_the_finish_step_the_run_resumes_and_comments_each_epic_once(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    jira = crew_workspace.vendors.jira
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    await approve_until(crew_flow, run.id, "approve_merge")
    jira.faults.delay(r"/comment$", 120, method="POST", after=1)  # holds the second epic's comment

    await _kill_when(_driver(ctx, run.id), "the first comment", lambda: bool(jira.writes(r"/comment$")))

    stop = await crew_flow.resume(run.id)
    assert stop.status == "completed", stop.detail
    commented = [w.path for w in jira.writes(r"/comment$")]
    epics = (await load(ctx, run.id)).artefacts["backlog"]["epics"]
    assert len(commented) == len(set(commented)) == len(epics) > 1  # one comment per epic
    assert len(crew_workspace.vendors.gitlab.writes(r"/merge_requests$")) == 1
