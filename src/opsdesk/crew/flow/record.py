"""What the flow tells the world: the run's row (steps, artefacts, links, usage, status) and its events, written
in one transaction each, so an event exists if and only if the state change it reports does.

Events (through the outbox, key ``crew-run:<id>`` so they arrive in order): ``agent.task.assigned``,
``agent.task.completed``, ``agent.task.failed`` (agent steps), ``workflow.step.completed`` (every step),
``approval.requested`` (a gate waits). Payloads carry ids, names and counts — never requirement text or tokens.
Each change also notifies the run's event streams (``runs/notices.py``), in the same transaction.
With settings given, a gate that starts waiting also opens a case in the operator inbox, and its answer resolves
it (``inbox.py``), in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.settings import Settings
from opsdesk.crew.flow import inbox
from opsdesk.crew.runs.models import CrewRun
from opsdesk.crew.runs.notices import notify_changed
from opsdesk.db.engine import Database
from opsdesk.events.service import publish

AGENT_OF = {
    "analyse": "business_analyst",
    "design": "developer",
    "implement": "developer",
    "qa": "qa",
    "devops": "devops",
    "docs": "technical_writer",
}
_MAX_STEPS = 500


def _now() -> str:
    return datetime.now(UTC).isoformat()


def event_key(run_id: uuid.UUID) -> str:
    return f"crew-run:{run_id}"


class RunRecorder:
    """Writes a run's progress; every method is one transaction holding the run's row lock."""

    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self._db = db
        self._settings = settings

    async def step_started(self, run_id: uuid.UUID, step: str) -> None:
        async with self._db.session() as session:
            run = await _locked(session, run_id)
            run.status = "running"
            # A step still "running" here was cut short (a crash, a pause): it is being run again now.
            earlier = [
                {**item, "status": "interrupted"} if item["step"] == step and item["status"] == "running" else item
                for item in run.steps
            ]
            run.steps = [*earlier, {"step": step, "status": "running", "started_at": _now()}][-_MAX_STEPS:]
            if step in AGENT_OF:
                await publish(
                    session,
                    "agent.task.assigned",
                    {"run_id": run_id, "step": step, "agent": AGENT_OF[step]},
                    workspace_id=run.workspace_id,
                    key=event_key(run_id),
                )

    async def step_finished(
        self,
        run_id: uuid.UUID,
        step: str,
        *,
        seconds: float,
        tokens: int = 0,
        cost_usd: float = 0.0,
        artefacts: dict[str, Any] | None = None,
        links: dict[str, Any] | None = None,
        detail: str = "",
        status: str = "completed",
    ) -> None:
        async with self._db.session() as session:
            run = await _locked(session, run_id)
            run.steps = _close(run.steps, step, status=status, seconds=seconds, tokens=tokens, detail=detail)
            run.tokens += tokens
            run.cost_usd += cost_usd
            run.work_s += seconds
            if artefacts:
                _replace_artefacts(run, artefacts)
            if links:
                run.links = {**run.links, **links}
            payload = {"run_id": run_id, "step": step, "status": status, "seconds": round(seconds, 3)}
            if step in AGENT_OF:
                await publish(
                    session,
                    "agent.task.completed",
                    {**payload, "agent": AGENT_OF[step], "tokens": tokens},
                    workspace_id=run.workspace_id,
                    key=event_key(run_id),
                )
            await publish(
                session, "workflow.step.completed", payload, workspace_id=run.workspace_id, key=event_key(run_id)
            )

    async def step_failed(self, run_id: uuid.UUID, step: str, *, seconds: float, error: str) -> None:
        async with self._db.session() as session:
            run = await _locked(session, run_id)
            run.steps = _close(run.steps, step, status="failed", seconds=seconds, tokens=0, detail=error)
            run.work_s += seconds
            if step in AGENT_OF:
                await publish(
                    session,
                    "agent.task.failed",
                    {"run_id": run_id, "step": step, "agent": AGENT_OF[step], "error": error[:500]},
                    workspace_id=run.workspace_id,
                    key=event_key(run_id),
                )

    async def gate_answered(
        self,
        run_id: uuid.UUID,
        gate: str,
        decision: str,
        *,
        comment: str | None = None,
        artefacts: dict[str, Any] | None = None,
    ) -> None:
        async with self._db.session() as session:
            run = await _locked(session, run_id)
            now = _now()
            entry = {"step": gate, "status": decision, "started_at": now, "finished_at": now, "seconds": 0.0}
            if comment:
                entry["detail"] = comment[:2000]
            asked = _open_gate(run.steps, gate)
            if asked is None:
                run.steps = [*run.steps, entry][-_MAX_STEPS:]
            else:  # the gate's own row: asked at started_at, answered now
                steps = [dict(item) for item in run.steps]
                steps[asked] = {**entry, "started_at": steps[asked].get("started_at", now)}
                run.steps = steps
            if artefacts:
                _replace_artefacts(run, artefacts)
            run.status, run.waiting_for = "running", None
            await inbox.answered(session, run, gate, decision)
            await publish(
                session,
                "workflow.step.completed",
                {"run_id": run_id, "step": gate, "status": decision},
                workspace_id=run.workspace_id,
                key=event_key(run_id),
            )

    async def settled(
        self,
        run_id: uuid.UUID,
        status: str,
        *,
        waiting_for: str | None = None,
        gates: tuple[str, ...] = (),
        detail: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        """Where an invocation of the flow ended: waiting at one gate or two, paused, stopped, failed or completed.

        Each gate waited at gets a step row (status ``waiting``, ``queued`` once an answer is accepted); a gate
        asked anew publishes ``approval.requested``. ``waiting_for`` is the first gate still without an answer."""
        async with self._db.session() as session:
            run = await _locked(session, run_id)
            steps = [dict(item) for item in run.steps]
            asked: list[str] = []
            if status == "waiting":
                for gate in gates or ((waiting_for,) if waiting_for else ()):
                    if _open_gate(steps, gate) is None:
                        steps.append({"step": gate, "status": "waiting", "started_at": _now()})
                        asked.append(gate)
                run.steps = steps[-_MAX_STEPS:]
                unanswered = pending_gates(run.steps)
                # every gate already has an answer queued: a worker is about to go on
                status, waiting_for = ("waiting", unanswered[0]) if unanswered else ("running", None)
            run.status, run.waiting_for, run.detail, run.retry_after_s = status, waiting_for, detail, retry_after_s
            if status == "completed":
                run.finished_at = datetime.now(UTC)
            for gate in asked:
                if self._settings is not None:
                    await inbox.ask(session, self._settings, run, gate)
                await publish(
                    session,
                    "approval.requested",
                    {"run_id": run_id, "gate": gate},
                    workspace_id=run.workspace_id,
                    key=event_key(run_id),
                )


def _replace_artefacts(run: CrewRun, artefacts: dict[str, Any]) -> None:
    """Puts the new artefacts in the run, keeping each one they replace as its previous version (even when equal, so
    a gate compares with the version just before, never an older one)."""
    previous = dict(run.previous_artefacts or {})
    for key in artefacts:
        if key in run.artefacts:
            previous[key] = run.artefacts[key]
    run.previous_artefacts = previous
    run.artefacts = {**run.artefacts, **artefacts}


def pending_gates(steps: list[dict[str, Any]]) -> list[str]:
    """The gates a run waits at without an answer yet, as its step rows say (``CrewRun.waiting_at`` too)."""
    return [str(item["step"]) for item in steps if item.get("status") == "waiting"]


def _open_gate(steps: list[dict[str, Any]], gate: str) -> int | None:
    """The index of the gate's row while it waits or has an answer queued."""
    for index in range(len(steps) - 1, -1, -1):
        if steps[index].get("step") == gate and steps[index].get("status") in ("waiting", "queued"):
            return index
    return None


async def _locked(session: AsyncSession, run_id: uuid.UUID) -> CrewRun:
    """The run's row, locked for a change; its event streams wake when the change commits."""
    run = await session.scalar(select(CrewRun).where(CrewRun.id == run_id).with_for_update())
    if run is None:
        raise LookupError(f"no crew run {run_id}")
    await notify_changed(session, run_id)
    return run


def _close(
    steps: list[dict[str, Any]], step: str, *, status: str, seconds: float, tokens: int, detail: str
) -> list[dict[str, Any]]:
    closed = [dict(item) for item in steps]
    for item in reversed(closed):
        if item["step"] == step and item["status"] == "running":
            item.update(status=status, finished_at=_now(), seconds=round(seconds, 3), tokens=tokens, detail=detail)
            return closed
    closed.append(
        {
            "step": step,
            "status": status,
            "started_at": _now(),
            "finished_at": _now(),
            "seconds": round(seconds, 3),
            "tokens": tokens,
            "detail": detail,
        }
    )
    return closed[-_MAX_STEPS:]
