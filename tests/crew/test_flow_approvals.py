"""Approvals, restarts, vendor faults and budgets of the crew flow (against the local vendors)."""

from __future__ import annotations

import pytest

from opsdesk.app.context import AppContext
from opsdesk.crew.agents.schemas import Backlog
from opsdesk.crew.flow.runtime import CrewFlow, new_crew_flow
from opsdesk.crew.flow.state import Answer
from opsdesk.crew.runs import service
from opsdesk.crew.runs.models import CrewRun
from opsdesk.crew.runs.schemas import BudgetIn, ResumeIn
from tests.crew.conftest import FLOW_POLICY, CrewWorkspace
from tests.crew.test_flow import APPROVE, SAMPLES, approve_until, load, new_run

REQUIREMENT = (SAMPLES / "support_tickets.md").read_text()


async def _waiting_to_merge(ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow) -> CrewRun:
    """A run of the sample requirement approved up to its last gate, where the answer publishes code and pages."""
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    await approve_until(crew_flow, run.id, "approve_merge")
    return run


async def test_a_rejected_backlog_is_analysed_again_and_answers_the_comment(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    assert (await crew_flow.start(run)).gate == "approve_stories"
    comment = "Tickets also need a story for the audit trail"
    stop = await crew_flow.answer(run.id, Answer(decision="reject", comment=comment))
    assert (stop.status, stop.gate) == ("waiting", "approve_stories")  # analysed again, asked again

    backlog = Backlog.model_validate((await load(ctx, run.id)).artefacts["backlog"])
    assert any(comment in note for note in backlog.notes)
    assert any(comment in story.title or comment in story.narrative for story in backlog.stories)
    assert [s["step"] for s in (await load(ctx, run.id)).steps].count("analyse") == 2
    assert not crew_workspace.vendors.jira.writes(r"/issue")  # nothing reached Jira before an approval


async def test_an_edited_backlog_is_the_one_written_to_jira(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    backlog = Backlog.model_validate((await load(ctx, run.id)).artefacts["backlog"])
    backlog.stories[0].title = "Edited by the product owner: record tickets"
    backlog.stories = backlog.stories[:2]
    stop = await crew_flow.answer(run.id, Answer(decision="edit", artefact=backlog.model_dump(mode="json")))
    assert (stop.status, stop.gate) == ("waiting", "approve_design")

    bulk = crew_workspace.vendors.jira.writes(r"/issue/bulk")
    summaries = [issue["fields"]["summary"] for issue in bulk[0].body["issueUpdates"]]
    assert "Edited by the product owner: record tickets" in summaries
    assert len([s for s in summaries if s not in {e.title for e in backlog.epics}]) == 2


async def test_a_run_waiting_for_approval_survives_a_restart(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    await crew_flow.aclose()  # the process goes away while the run waits

    restarted = await new_crew_flow(ctx, policy=FLOW_POLICY)
    try:
        assert await restarted.waiting_gate(run.id) == "approve_stories"
        stop = await restarted.answer(run.id, APPROVE)
        assert (stop.status, stop.gate) == ("waiting", "approve_design")
    finally:
        await restarted.aclose()
    assert len(crew_workspace.vendors.jira.writes(r"/issue/bulk")) == 1


@pytest.mark.slow
async def test_jira_rate_limiting_pauses_the_run_and_resume_writes_each_issue_once(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    jira = crew_workspace.vendors.jira
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    jira.faults.fail(r"/issue/bulk", 429, retry_after_s=1, times=3, method="POST")  # every try of this call

    stop = await crew_flow.answer(run.id, APPROVE)
    assert stop.status == "paused"
    paused = await load(ctx, run.id)
    assert paused.status == "paused" and "jira" in (paused.detail or "")
    assert len(jira.writes(r"/issue/bulk", applied_only=False)) == 3  # retried before pausing
    assert not jira.writes(r"/issue/bulk")

    stop = await crew_flow.resume(run.id)
    assert (stop.status, stop.gate) == ("waiting", "approve_design")
    assert len(jira.writes(r"/issue/bulk")) == 1


@pytest.mark.slow
async def test_gitlab_errors_pause_the_run_and_resume_commits_once(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    gitlab = crew_workspace.vendors.gitlab
    run = await _waiting_to_merge(ctx, crew_workspace, crew_flow)
    gitlab.faults.fail(r"/repository/commits", 500, times=3, method="POST")
    stop = await crew_flow.answer(run.id, APPROVE)
    assert stop.status == "paused", stop.detail
    assert (await load(ctx, run.id)).status == "paused"

    stop = await crew_flow.resume(run.id)
    assert stop.status == "completed", stop.detail
    assert len(gitlab.writes(r"/repository/commits")) == 1
    assert len(gitlab.writes(r"/merge_requests")) == 1


@pytest.mark.slow
async def test_a_confluence_timeout_pauses_the_run_naming_it_and_resume_writes_each_page_once(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    confluence = crew_workspace.vendors.confluence
    run = await _waiting_to_merge(ctx, crew_workspace, crew_flow)
    # The run's page goes through; the next page's create is held past the connector's timeout on each of its tries
    # (3: the first and two retries). Were it tried fewer times, the held ones left would time the resume out too.
    confluence.faults.delay(r"/rest/api/content$", 30, times=3, method="POST", after=1)

    stop = await crew_flow.answer(run.id, APPROVE)
    assert stop.status == "paused", stop.detail
    paused = await load(ctx, run.id)
    assert paused.status == "paused"
    assert "confluence" in (paused.detail or "") and "timed out" in (paused.detail or ""), paused.detail
    assert len(confluence.writes(r"/rest/api/content$")) == 1  # only the run's page

    stop = await crew_flow.resume(run.id)
    assert stop.status == "completed", stop.detail
    done = await load(ctx, run.id)
    assert {"parent", "README", "API reference"} <= set(done.links["confluence"])
    created = [write.body["title"] for write in confluence.writes(r"/rest/api/content$") if write.method == "POST"]
    assert len(created) == len(set(created)) == len(confluence.contents)  # each page written once
    assert len(crew_workspace.vendors.gitlab.writes(r"/repository/commits")) == 1


async def test_a_spent_budget_stops_the_run_with_its_state_and_a_new_budget_resumes_it(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT, max_work_s=1e-9)
    stop = await crew_flow.start(run)
    assert stop.gate == "approve_stories"  # the first step runs on an unspent budget
    stop = await crew_flow.answer(run.id, APPROVE)
    assert stop.status == "stopped" and "budget" in (stop.detail or "")
    stopped = await load(ctx, run.id)
    assert stopped.status == "stopped" and stopped.artefacts["backlog"]["stories"]  # the state is kept
    assert not crew_workspace.vendors.jira.writes(r"/issue")

    async with ctx.db.session() as session:
        body = ResumeIn(budget=BudgetIn(max_work_s=3600))
        await service.request_resume(session, run.workspace_id, run.id, body, enqueue_advance=False)
    stop = await crew_flow.resume(run.id)
    assert (stop.status, stop.gate) == ("waiting", "approve_design")
    assert len(crew_workspace.vendors.jira.writes(r"/issue/bulk")) == 1


async def test_checkpoints_of_runs_finished_long_ago_are_pruned_and_their_row_stays(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    from datetime import UTC, datetime, timedelta

    from opsdesk.crew.flow.runtime import close_crew_flow
    from opsdesk.crew.runs.models import CrewRun

    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    waiting = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    await crew_flow.start(waiting)
    async with ctx.db.session() as session:  # as if this one had finished forty days ago
        stored = await session.get(CrewRun, run.id)
        assert stored is not None
        stored.status, stored.finished_at = "completed", datetime.now(UTC) - timedelta(days=40)
    try:
        assert await service.prune_checkpoints(ctx, older_than=timedelta(days=30)) == 1
        assert await service.prune_checkpoints(ctx, older_than=timedelta(days=30)) == 0
    finally:
        await close_crew_flow(ctx)
    assert await crew_flow.state(run.id) == {}
    assert await crew_flow.waiting_gate(waiting.id) == "approve_stories"  # a live run keeps its checkpoint
    assert (await load(ctx, run.id)).artefacts["backlog"]


async def test_rejected_design_and_merge_rerun_their_steps_and_record_the_comments(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    run = await new_run(ctx, crew_workspace.workspace_id, REQUIREMENT)
    await crew_flow.start(run)
    await crew_flow.answer(run.id, APPROVE)
    stop = await crew_flow.answer(run.id, Answer(decision="reject", comment="Use PostgreSQL, not memory"))
    assert stop.gate == "approve_design"
    assert any("Use PostgreSQL, not memory" in note for note in (await load(ctx, run.id)).artefacts["design"]["notes"])

    await approve_until(crew_flow, run.id, "approve_merge")
    stop = await crew_flow.answer(run.id, Answer(decision="reject", comment="Name the tickets module tickets.py"))
    assert stop.gates == ("approve_tests", "approve_pipeline")  # new code: its tests and pipeline are asked again
    files = {f["path"]: f["content"] for f in (await load(ctx, run.id)).artefacts["implementation"]["files"]}
    assert "Name the tickets module tickets.py" in files["SCAFFOLD.md"]
    steps = [s["step"] for s in (await load(ctx, run.id)).steps]
    assert steps.count("design") == 2 and steps.count("implement") == 2 and steps.count("qa") == 2
    assert not crew_workspace.vendors.gitlab.writes(r"/repository/commits")  # nothing merged before approval
