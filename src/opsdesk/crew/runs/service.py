"""Crew runs: creating one, answering its gates, resuming it, reading it — and advancing it (the job's body).

The API never drives the flow itself: it changes the run's row and enqueues ``crew.advance`` in the same
transaction, so an accepted answer is durable before the answer to the request, and a worker takes it from there.
The CLI drives the flow in its own process through the same functions.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.core.errors import Conflict, NotFound, OpsdeskError
from opsdesk.crew.agents.requirement import parse_requirement
from opsdesk.crew.flow import inbox
from opsdesk.crew.flow.record import pending_gates
from opsdesk.crew.flow.runtime import Stop, open_crew_flow
from opsdesk.crew.flow.state import GATES, Answer
from opsdesk.crew.runs.models import CrewRun
from opsdesk.crew.runs.notices import CHANNEL, notify_changed
from opsdesk.crew.runs.schemas import ResumeIn, RunIn, RunSummary
from opsdesk.db.notify import notifications
from opsdesk.jobs.service import enqueue

ADVANCE_TASK = "crew.advance"


class InvalidArtefact(OpsdeskError):
    """An edited artefact that does not fit the gate's artefact type."""

    status_code = 422
    error_type = "invalid_request_error"


RESUMABLE = ("paused", "stopped", "failed", "running")


class UnknownModel(OpsdeskError):
    """A run asked for a model that no configured provider serves."""

    status_code = 422
    error_type = "invalid_request_error"


def check_model(model: str, providers: list[str]) -> None:
    """422 unless the model is "local" (the offline crew) or "<provider>[/<model>]" of a configured provider."""
    if model != "local" and model.partition("/")[0] not in providers:
        known = ", ".join(["local", *providers])
        raise UnknownModel(f"No provider serves {model!r}; use one of: {known}.", code="unknown_model")


async def create_run(
    session: AsyncSession, workspace_id: uuid.UUID, body: RunIn, *, created_by: str | None, enqueue_start: bool = True
) -> CrewRun:
    """A new run (status running); with ``enqueue_start`` a worker starts it."""
    title = parse_requirement(body.requirement).title[:200] or "Requirement"
    run = CrewRun(
        workspace_id=workspace_id,
        created_by=created_by,
        title=title,
        requirement=body.requirement,
        model=body.model,
        status="running",
        steps=[],
        artefacts={},
        links={},
        budget=body.budget.model_dump(exclude_none=True),
        tokens=0,
        cost_usd=0.0,
        work_s=0.0,
    )
    session.add(run)
    await session.flush()
    if enqueue_start:
        await enqueue(session, ADVANCE_TASK, {"run_id": str(run.id), "action": "start"}, workspace_id=workspace_id)
    return run


async def list_runs(
    session: AsyncSession, workspace_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[CrewRun], int]:
    base = select(CrewRun).where(CrewRun.workspace_id == workspace_id)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.scalars(base.order_by(CrewRun.created_at.desc(), CrewRun.id).limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def get_run(session: AsyncSession, workspace_id: uuid.UUID, run_id: uuid.UUID, *, lock: bool = False) -> CrewRun:
    query = select(CrewRun).where(CrewRun.workspace_id == workspace_id, CrewRun.id == run_id)
    run = await session.scalar(query.with_for_update() if lock else query)
    if run is None:
        raise NotFound(f"No crew run {run_id}.", code="crew_run_not_found")
    return run


def check_answer(run: CrewRun, answer: Answer) -> str:
    """The gate the answer is for: the one it names, else the one the run shows (``waiting_for``; with two parallel
    gates waiting, the first). 409 unless the run waits there; 422 when an edited artefact does not fit its type."""
    pending = pending_gates(run.steps) or ([run.waiting_for] if run.waiting_for else [])
    if run.status != "waiting" or not pending:
        raise Conflict(f"Run {run.id} is {run.status}, not waiting for an approval.", code="crew_run_not_waiting")
    gate = answer.gate or run.waiting_for or pending[0]
    if gate not in pending or gate not in GATES:
        raise Conflict(
            f"Run {run.id} does not wait at {gate}; it waits at {', '.join(pending)}.", code="crew_run_not_waiting"
        )
    if answer.decision == "edit":
        what, _, kind = GATES[gate]
        try:
            kind.model_validate(answer.artefact)
        except ValueError as exc:
            raise InvalidArtefact(f"The edited {what} is not valid: {exc}", code="invalid_artefact") from exc
    return gate


async def submit_answer(
    session: AsyncSession, workspace_id: uuid.UUID, run_id: uuid.UUID, answer: Answer, *, enqueue_advance: bool = True
) -> CrewRun:
    """Accepts a person's answer at a gate the run waits at; a worker resumes the flow with it. While the run waits
    at two gates, the other one stays open (the run stays ``waiting`` for it)."""
    run = await get_run(session, workspace_id, run_id, lock=True)
    gate = check_answer(run, answer)
    await notify_changed(session, run.id)
    steps = [dict(item) for item in run.steps]
    for item in reversed(steps):
        if item.get("step") == gate and item.get("status") == "waiting":
            item["status"] = "queued"
            break
    else:  # a run recorded before gates had rows of their own
        steps.append({"step": gate, "status": "queued", "started_at": datetime.now(UTC).isoformat()})
    run.steps = steps
    await inbox.answered(
        session, run, gate, {"approve": "approved", "edit": "edited", "reject": "rejected"}[answer.decision]
    )
    unanswered = pending_gates(steps)
    run.status, run.waiting_for = ("waiting", unanswered[0]) if unanswered else ("running", None)
    if enqueue_advance:
        given = answer.model_dump(mode="json") | {"gate": gate}
        payload = {"run_id": str(run.id), "action": "answer", "gate": gate, "answer": given}
        await enqueue(session, ADVANCE_TASK, payload, workspace_id=workspace_id)
    return run


async def request_resume(
    session: AsyncSession, workspace_id: uuid.UUID, run_id: uuid.UUID, body: ResumeIn, *, enqueue_advance: bool = True
) -> CrewRun:
    """A paused, stopped or failed run goes on from its checkpoint (with a new budget when given)."""
    run = await get_run(session, workspace_id, run_id, lock=True)
    if run.status not in RESUMABLE:
        raise Conflict(f"Run {run.id} is {run.status}: nothing to resume.", code="crew_run_not_resumable")
    await notify_changed(session, run.id)
    if body.budget is not None:
        run.budget = body.budget.model_dump(exclude_none=True)
    run.status, run.detail = "running", None
    if enqueue_advance:
        await enqueue(session, ADVANCE_TASK, {"run_id": str(run.id), "action": "resume"}, workspace_id=workspace_id)
    return run


async def prune_checkpoints(ctx: AppContext, *, older_than: timedelta, limit: int = 500) -> int:
    """Deletes the checkpoints of runs completed longer ago than ``older_than`` (their row keeps the artefacts)."""
    cutoff = datetime.now(UTC) - older_than
    async with ctx.db.session() as session:
        rows = await session.execute(
            text(
                "SELECT r.id FROM crew_runs r WHERE r.status = 'completed' AND r.finished_at < :cutoff "
                "AND EXISTS (SELECT 1 FROM checkpoints c WHERE c.thread_id = 'crew:' || r.id::text) LIMIT :limit"
            ),
            {"cutoff": cutoff, "limit": limit},
        )
        run_ids = [row[0] for row in rows]
    flow = await open_crew_flow(ctx)
    for run_id in run_ids:
        await flow.forget(run_id)
    return len(run_ids)


# The stream wakes on the run's notice (sent in the transaction of each change, ``notices.notify_changed``); this slow
# poll only catches a notice lost with the listening connection.
_FALLBACK_POLL_S = 10.0
FINAL = ("completed", "failed", "stopped")


async def run_events(
    ctx: AppContext, workspace_id: uuid.UUID, run_id: uuid.UUID
) -> AsyncGenerator[dict[str, str], None]:
    """Server-sent events of a run: `progress` (status, gate, usage and the latest step) on every change, then one
    `completed`, `failed` or `stopped`, then the end. A waiting or paused run keeps the stream open."""
    last: Any = None
    listener = notifications(ctx.extras, ctx.db.url)
    async with listener.watch(CHANNEL, str(run_id)) as watch:
        while True:
            async with ctx.db.session() as session:
                run = await get_run(session, workspace_id, run_id)
                out = RunSummary.model_validate(run, from_attributes=True).model_dump(mode="json")
                out["step"] = run.steps[-1] if run.steps else None
            if run.status in FINAL:
                yield {"event": run.status, "data": json.dumps(out)}
                return
            if out["updated_at"] != last:
                yield {"event": "progress", "data": json.dumps(out)}
                last = out["updated_at"]
            await listener.listen(CHANNEL)  # again after a lost connection
            await watch.wait(_FALLBACK_POLL_S)


async def advance(ctx: AppContext, run_id: uuid.UUID, action: str, answer: dict[str, Any] | None = None) -> Stop:
    """Drives the run to its next stop: start, answer the waiting gate, or resume."""
    flow = await open_crew_flow(ctx)
    async with ctx.db.session() as session:
        run = await session.get(CrewRun, run_id)
        if run is None:
            raise NotFound(f"No crew run {run_id}.", code="crew_run_not_found")
        session.expunge(run)
    if action == "start":
        if await flow.state(run_id):  # started before (a retried job): carry on instead of starting over
            return await flow.resume(run_id)
        return await flow.start(run)
    if action == "answer" and answer is not None:
        given = Answer.model_validate(answer)
        pending = await flow.waiting_gates(run_id)
        gate: str | None = given.gate or next(iter(pending), None)
        if gate is None or gate not in pending:  # already answered (a retried job)
            return await flow.resume(run_id)
        return await flow.answer(run_id, given)
    return await flow.resume(run_id)
