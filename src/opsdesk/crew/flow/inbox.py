"""Approvals in the operator inbox: a run that starts waiting at a gate puts a case there (the same escalations the
order desk and the voice desk open), with what is to be approved and the run's console link; an answer to that
gate, from the console, the API, the CLI or the inbox's link, resolves the case.

Each run has a conversation of its own (channel and solution ``crew``, sender ``run:<id>``) for its cases; a case
is found again by the start of its reason, so asking twice or answering twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.conversation import service as conversations
from opsdesk.conversation.escalation import OPEN_STATUSES, create_escalation, resolve
from opsdesk.conversation.handlers import EscalationRequest
from opsdesk.conversation.models import Escalation
from opsdesk.core.settings import Settings
from opsdesk.crew.runs.models import CrewRun

CHANNEL = SOLUTION = "crew"
GATE_TITLES = {
    "approve_stories": "the stories",
    "approve_design": "the design",
    "approve_tests": "the test report and defects",
    "approve_pipeline": "the CI pipeline and Dockerfile",
    "approve_merge": "the implementation before the merge request",
}


def run_link(run: CrewRun) -> str:
    """The run's page in the console, where its approvals are answered."""
    return f"/crew/runs/{run.id}"


def _prefix(run: CrewRun, gate: str) -> str:
    return f"Crew run {run.id} waits for approval of {GATE_TITLES.get(gate, gate)} ({gate})"


def summary(run: CrewRun, gate: str) -> str:
    """A line on what the gate asks to approve, from the run's artefacts (counts and names, no requirement text)."""
    artefacts: dict[str, Any] = run.artefacts or {}
    if gate == "approve_stories":
        backlog = artefacts.get("backlog") or {}
        return f"{len(backlog.get('epics', []))} epics, {len(backlog.get('stories', []))} stories"
    if gate == "approve_design":
        design = artefacts.get("design") or {}
        return f"{len(design.get('modules', []))} modules, {len(design.get('decisions', []))} decisions"
    if gate == "approve_tests":
        qa = artefacts.get("qa") or {}
        tests = qa.get("run") or {}
        return (
            f"{tests.get('passed', 0)} tests passed, {tests.get('failed', 0)} failed, "
            f"{len(qa.get('defects', []))} defects"
        )
    if gate == "approve_pipeline":
        files = (artefacts.get("devops") or {}).get("files", [])
        return "files: " + ", ".join(str(f.get("path")) for f in files)
    if gate == "approve_merge":
        code = artefacts.get("implementation") or {}
        kind = "scaffold" if code.get("scaffold") else "implementation"
        return f"{len(code.get('files', []))} files ({kind})"
    return gate


async def ask(session: AsyncSession, settings: Settings, run: CrewRun, gate: str) -> Escalation | None:
    """Opens the inbox case for a gate the run now waits at (None when one is open already)."""
    prefix = _prefix(run, gate)
    if await _open_cases(session, run, prefix):
        return None
    conversation = await conversations.open_session(
        session, run.workspace_id, channel=CHANNEL, sender=f"run:{run.id}", solution=SOLUTION
    )
    reason = f"{prefix}: “{run.title}” — {summary(run, gate)}. Approve, edit or reject at {run_link(run)}."
    return await create_escalation(session, settings, conversation, EscalationRequest(reason=reason, level="staff"))


async def answered(session: AsyncSession, run: CrewRun, gate: str, decision: str, *, by: str = "crew") -> int:
    """Resolves the open inbox case of the gate (the answer came from anywhere); how many it resolved."""
    cases = await _open_cases(session, run, _prefix(run, gate))
    for case in cases:
        await resolve(session, run.workspace_id, case.id, by=by, note=f"{gate}: {decision}")
    return len(cases)


async def _open_cases(session: AsyncSession, run: CrewRun, prefix: str) -> list[Escalation]:
    query = select(Escalation).where(
        Escalation.workspace_id == run.workspace_id,
        Escalation.status.in_(OPEN_STATUSES),
        Escalation.reason.startswith(prefix, autoescape=True),
    )
    return list(await session.scalars(query))
