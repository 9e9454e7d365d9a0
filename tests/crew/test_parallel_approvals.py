"""Two approvals at once: the QA branch's gate (test report) and the DevOps branch's (pipeline and Dockerfile) wait
together; each answer, named by its gate, resolves its own branch, and the join goes on only when both are done."""

from __future__ import annotations

import uuid

import pytest

from opsdesk.app.context import AppContext
from opsdesk.core.errors import Conflict
from opsdesk.crew.agents.schemas import DevOpsFiles, ProjectFile
from opsdesk.crew.flow.runtime import CrewFlow
from opsdesk.crew.flow.state import Answer
from opsdesk.crew.runs import service
from opsdesk.crew.runs.models import CrewRun
from tests.crew.conftest import CrewWorkspace
from tests.crew.test_flow import APPROVE, SAMPLES, load, new_run

REQUIREMENT = (SAMPLES / "support_tickets.md").read_text()
BOTH = ("approve_tests", "approve_pipeline")


async def _at_both_gates(ctx: AppContext, workspace: CrewWorkspace, flow: CrewFlow) -> uuid.UUID:
    run = await new_run(ctx, workspace.workspace_id, REQUIREMENT)
    await flow.start(run)
    await flow.answer(run.id, APPROVE)  # stories
    stop = await flow.answer(run.id, APPROVE)  # design
    assert (stop.status, stop.gates) == ("waiting", BOTH)
    assert tuple(await flow.waiting_gates(run.id)) == BOTH
    shown = await load(ctx, run.id)
    assert (shown.status, shown.waiting_for) == ("waiting", "approve_tests")
    assert [s["step"] for s in shown.steps if s["status"] == "waiting"] == list(BOTH)
    run_id: uuid.UUID = shown.id
    return run_id


def _steps(run: CrewRun) -> list[str]:
    return [s["step"] for s in run.steps]


@pytest.mark.slow
async def test_a_rejected_pipeline_and_an_approved_report_each_resolve_their_own_branch(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    run_id = await _at_both_gates(ctx, crew_workspace, crew_flow)
    comment = "Cache the pip downloads between pipelines"

    # the DevOps branch first: its gate is answered, the QA gate still waits, nothing joins yet
    stop = await crew_flow.answer(run_id, Answer(decision="reject", comment=comment, gate="approve_pipeline"))
    assert (stop.status, stop.gates) == ("waiting", ("approve_tests",))
    shown = await load(ctx, run_id)
    assert shown.waiting_for == "approve_tests" and "docs" not in _steps(shown)

    stop = await crew_flow.answer(run_id, Answer(decision="approve", gate="approve_tests"))
    assert (stop.status, stop.gates) == ("waiting", ("approve_pipeline",))  # DevOps ran again for the comment
    shown = await load(ctx, run_id)
    assert _steps(shown).count("devops") == 2 and _steps(shown).count("qa") == 1
    assert "docs" not in _steps(shown)  # the join waits for the DevOps branch
    ci = {f["path"]: f["content"] for f in shown.artefacts["devops"]["files"]}[".gitlab-ci.yml"]
    assert f"TODO (review): {comment}" in ci
    assert any(comment in note for note in shown.artefacts["devops"]["notes"])

    stop = await crew_flow.answer(run_id, APPROVE)  # the only gate left: no name needed
    assert (stop.status, stop.gate) == ("waiting", "approve_merge")
    shown = await load(ctx, run_id)
    assert _steps(shown).count("docs") == 1  # joined once
    decisions = [(s["step"], s["status"]) for s in shown.steps if s["step"] in BOTH]
    assert decisions == [
        ("approve_tests", "approved"),
        ("approve_pipeline", "rejected"),
        ("approve_pipeline", "approved"),
    ]


@pytest.mark.slow
async def test_answers_in_the_other_order_through_the_service_name_their_gates(
    ctx: AppContext, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    run_id = await _at_both_gates(ctx, crew_workspace, crew_flow)
    shown = await load(ctx, run_id)
    devops = DevOpsFiles.model_validate(shown.artefacts["devops"])
    devops.files.append(ProjectFile(path="deploy/NOTES.md", content="Deployed by the platform team.\n"))
    edit = Answer(decision="edit", artefact=devops.model_dump(mode="json"), gate="approve_pipeline")

    async with ctx.db.session() as session:  # the API's path: the answer is accepted, the other gate stays open
        run = await service.submit_answer(session, shown.workspace_id, run_id, edit, enqueue_advance=False)
        assert (run.status, run.waiting_for) == ("waiting", "approve_tests")
    async with ctx.db.session() as session:
        with pytest.raises(Conflict):  # answered already
            await service.submit_answer(session, shown.workspace_id, run_id, edit, enqueue_advance=False)
    stop = await crew_flow.answer(run_id, edit)
    assert stop.gates == ("approve_tests",)
    assert "docs" not in _steps(await load(ctx, run_id))

    report = Answer(decision="reject", comment="Run the tests once more", gate="approve_tests")
    async with ctx.db.session() as session:
        run = await service.submit_answer(session, shown.workspace_id, run_id, report, enqueue_advance=False)
        assert run.status == "running" and run.waiting_for is None
    stop = await crew_flow.answer(run_id, report)
    assert stop.gates == ("approve_tests",)  # QA ran again and asks again; DevOps is through
    shown = await load(ctx, run_id)
    assert any("Run the tests once more" in note for note in shown.artefacts["qa"]["notes"])
    assert _steps(shown).count("devops") == 1 and "docs" not in _steps(shown)

    stop = await crew_flow.answer(run_id, APPROVE)
    assert (stop.status, stop.gate) == ("waiting", "approve_merge")
    paths = [f["path"] for f in (await load(ctx, run_id)).artefacts["devops"]["files"]]
    assert "deploy/NOTES.md" in paths  # the edited files are the ones the flow goes on with
    assert _steps(await load(ctx, run_id)).count("docs") == 1
