"""The job queue on PostgreSQL: transactional enqueue, claims with FOR UPDATE SKIP LOCKED, leases and heartbeats,
retries with backoff, stale-heartbeat reclaim, cancel and retry, and schedules that enqueue each slot once.

A claim increments `attempts`; that number is the lease every later write presents (`WHERE attempts = :attempt AND
status = 'running'`), so a worker whose job was reclaimed or cancelled can no longer touch it. `attempts` only
grows, also across a manual retry, so an old lease never becomes valid again.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from sqlalchemy import (
    ARRAY,
    DateTime,
    Row,
    Select,
    String,
    Uuid,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core import telemetry
from opsdesk.core.errors import Conflict, NotFound
from opsdesk.core.settings import Settings
from opsdesk.db.engine import Database
from opsdesk.db.paging import page
from opsdesk.jobs import registry
from opsdesk.jobs.models import FINISHED, Job, JobSchedule
from opsdesk.jobs.registry import JobChange, RetryPolicy, Task

STALE_AFTER_S = 30.0
CANCELLED = "Cancelled over the jobs API."
_DEFAULT_POLICY = RetryPolicy()


# --- enqueue (in the caller's transaction) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enqueued:
    id: uuid.UUID
    created: bool  # False when a job with the same dedupe key already existed


async def enqueue(
    session: AsyncSession,
    task: str,
    payload: dict[str, Any] | None = None,
    *,
    workspace_id: uuid.UUID | None = None,
    run_after: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int | None = None,
    job_id: uuid.UUID | None = None,
) -> Enqueued:
    """Adds a job in the caller's transaction: it exists if and only if that transaction commits.

    With `dedupe_key`, enqueueing again (a retried request, a second scheduler) returns the existing job. `job_id`
    gives the job the id of the row it works for (an ingestion job is one job, under one id, in both tables)."""
    if max_attempts is None:
        known = registry.find(task)
        max_attempts = (known.retry if known else _DEFAULT_POLICY).max_attempts
    values: dict[str, Any] = {
        "id": job_id or uuid.uuid4(),
        "workspace_id": workspace_id,
        "task": task,
        "payload": _json(payload or {}),
        "status": "queued",
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": run_after if run_after is not None else func.now(),
        "dedupe_key": dedupe_key,
        "trace_context": telemetry.carrier(),
    }
    statement = insert(Job).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(Job.id)
    created = await session.scalar(statement)
    if created is not None:
        return Enqueued(created, True)
    existing = await session.scalar(select(Job.id).where(Job.dedupe_key == dedupe_key))
    if existing is None:  # the other insert was rolled back between our two statements: try once more
        return await enqueue(
            session,
            task,
            payload,
            workspace_id=workspace_id,
            run_after=run_after,
            dedupe_key=dedupe_key,
            max_attempts=max_attempts,
            job_id=job_id,
        )
    return Enqueued(existing, False)


def _json(value: Any) -> Any:
    """JSON as PostgreSQL stores it (dates, ids and decimals as strings)."""
    return json.loads(json.dumps(value, default=str))


# --- the worker's side ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lease:
    """The right to run one job, valid while its row is running with `attempts` equal to `attempt`."""

    job_id: uuid.UUID
    attempt: int
    task: str
    workspace_id: uuid.UUID | None
    payload: dict[str, Any]
    max_attempts: int
    trace_context: dict[str, str] = field(default_factory=dict)

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


_NOW = "coalesce(CAST(:now AS timestamptz), now())"
_TYPES = (bindparam("now", type_=DateTime(timezone=True)),)

_CLAIM = text(
    f"""
    UPDATE jobs AS j
    SET status = 'running', attempts = j.attempts + 1, heartbeat_at = now(), updated_at = now(),
        started_at = coalesce(j.started_at, now())
    FROM (
        SELECT id FROM jobs
        WHERE status = 'queued' AND run_after <= {_NOW} AND task = ANY(:tasks)
          AND (CAST(:job_id AS uuid) IS NULL OR id = CAST(:job_id AS uuid))
        ORDER BY run_after
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) AS c
    WHERE j.id = c.id
    RETURNING j.id, j.attempts, j.task, j.workspace_id, j.payload, j.max_attempts, j.trace_context
    """
).bindparams(*_TYPES, bindparam("tasks", type_=ARRAY(String)), bindparam("job_id", type_=Uuid))


async def claim(
    db: Database, tasks: Collection[str], *, now: datetime | None = None, job_id: uuid.UUID | None = None
) -> Lease | None:
    """Claims the queued job of one of `tasks` that has waited longest (or the job `job_id`, when it is due), or None
    when none is due."""
    if not tasks:
        return None
    async with db.session() as session:
        row = (await session.execute(_CLAIM, {"tasks": list(tasks), "now": now, "job_id": job_id})).first()
    if row is None:
        return None
    return Lease(
        row.id,
        row.attempts,
        row.task,
        row.workspace_id,
        dict(row.payload or {}),
        row.max_attempts,
        dict(row.trace_context or {}),
    )


_RECLAIM = text(
    f"""
    UPDATE jobs
    SET status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,
        finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
        run_after = now(), heartbeat_at = NULL, updated_at = now(),
        last_error = 'The worker running attempt ' || attempts || ' of ' || max_attempts
                     || ' stopped without finishing (no heartbeat for ' || CAST(:stale AS integer) || ' s).'
    WHERE status = 'running' AND heartbeat_at < {_NOW} - make_interval(secs => :stale)
      AND (CAST(:tasks AS varchar[]) IS NULL OR task = ANY(:tasks))
    RETURNING id, task, status, last_error
    """
).bindparams(*_TYPES, bindparam("tasks", type_=ARRAY(String)))


async def reclaim_stale(
    db: Database,
    *,
    stale_after_s: float = STALE_AFTER_S,
    now: datetime | None = None,
    tasks: Collection[str] | None = None,
) -> int:
    """Queues again the running jobs (of `tasks`, default all) whose worker went silent (a crash, a kill); their last
    attempt fails them. A worker reclaims only its own tasks, so the task's `on_change` is there to hear of it."""
    params = {"stale": stale_after_s, "now": now, "tasks": list(tasks) if tasks is not None else None}
    async with db.session() as session:
        rows = (await session.execute(_RECLAIM, params)).all()
        for row in rows:
            await _changed(session, row.task, JobChange(row.id, "worker_lost", row.status, row.last_error))
    return len(rows)


async def _changed(session: AsyncSession, task: str, change: JobChange) -> None:
    """Tells the job's task (when it listens) of a change made without it, in the transaction that makes it."""
    known = registry.find(task)
    if known is not None and known.on_change is not None:
        await known.on_change(session, change)


def _owned(lease: Lease) -> Any:
    return (Job.id == lease.job_id) & (Job.attempts == lease.attempt) & (Job.status == "running")


async def heartbeat(db: Database, lease: Lease) -> bool:
    """Keeps the lease alive; False when the job is no longer this worker's (cancelled, or reclaimed)."""
    async with db.session() as session:
        result = await session.execute(
            update(Job).where(_owned(lease)).values(heartbeat_at=func.now(), updated_at=func.now())
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def complete(db: Database, lease: Lease, result: Any = None) -> bool:
    """Marks the job succeeded with its result; False when the lease was lost meanwhile."""
    async with db.session() as session:
        done = await session.execute(
            update(Job)
            .where(_owned(lease))
            .values(
                status="succeeded",
                result=_json(result),
                last_error=None,
                heartbeat_at=None,
                finished_at=func.now(),
                updated_at=func.now(),
            )
        )
    return bool(done.rowcount)  # type: ignore[attr-defined]


_FAIL = text(
    f"""
    UPDATE jobs
    SET status = CASE WHEN attempts < max_attempts AND :retry THEN 'queued' ELSE 'failed' END,
        run_after = CASE WHEN attempts < max_attempts AND :retry
                         THEN {_NOW} + make_interval(secs => :delay) ELSE run_after END,
        finished_at = CASE WHEN attempts < max_attempts AND :retry THEN NULL ELSE now() END,
        heartbeat_at = NULL, last_error = :error, updated_at = now()
    WHERE id = :id AND attempts = :attempt AND status = 'running'
    RETURNING status, run_after
    """
).bindparams(*_TYPES)


@dataclass(frozen=True, slots=True)
class Failure:
    status: str  # queued (to be retried at run_after) or failed
    run_after: datetime


async def fail(
    db: Database,
    lease: Lease,
    error: str,
    policy: RetryPolicy,
    *,
    retry: bool = True,
    now: datetime | None = None,
) -> Failure | None:
    """Records a failed attempt: queued again after the policy's backoff while attempts remain (and `retry`), else
    failed. None when the lease was lost meanwhile."""
    params = {
        "id": lease.job_id,
        "attempt": lease.attempt,
        "error": error[:4000],
        "delay": policy.backoff_s(lease.attempt),
        "retry": retry,
        "now": now,
    }
    async with db.session() as session:
        row = (await session.execute(_FAIL, params)).first()
    return Failure(row.status, row.run_after) if row is not None else None


async def release(db: Database, lease: Lease) -> None:
    """Hands a job back on a graceful stop; the claim is not counted against its attempts."""
    async with db.session() as session:
        await session.execute(
            update(Job)
            .where(_owned(lease))
            .values(status="queued", attempts=Job.attempts - 1, heartbeat_at=None, updated_at=func.now())
        )


async def has_work(db: Database, tasks: Collection[str], *, now: datetime | None = None) -> bool:
    """True while a job of `tasks` is due or running (in this or another worker)."""
    due = (Job.status == "queued") & (Job.run_after <= (now or func.now()))
    async with db.session() as session:
        found = await session.scalar(
            select(Job.id).where(Job.task.in_(list(tasks)), due | (Job.status == "running")).limit(1)
        )
    return found is not None


async def purge_finished(db: Database, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Deletes jobs that finished before `now - older_than` (their dedupe keys go with them)."""
    cutoff = (now or await _db_now(db)) - older_than
    async with db.session() as session:
        result = await session.execute(delete(Job).where(Job.status.in_(FINISHED), Job.finished_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _db_now(db: Database) -> datetime:
    async with db.session() as session:
        now: datetime | None = await session.scalar(select(func.now()))
    assert now is not None
    return now


# --- schedules ----------------------------------------------------------------------------------------------------


def next_run(cron: str | None, interval_s: float | None, *, after: datetime, slot: datetime | None = None) -> datetime:
    """The first slot after `after`: the next cron time, or `slot` plus whole intervals (so slots stay aligned and
    a worker that was down does not fire the missed ones in a burst)."""
    if cron is not None:
        found: datetime = croniter(cron, after).get_next(datetime)
        return found
    assert interval_s is not None and interval_s > 0
    if slot is None:
        return after
    steps = max(1, math.floor((after - slot).total_seconds() / interval_s) + 1)
    return slot + timedelta(seconds=interval_s * steps)


async def sync_schedules(db: Database, tasks: Iterable[Task], settings: Settings) -> None:
    """Writes the schedules that `tasks` declare; a changed expression starts over, `enabled` is left as it is.

    An interval schedule's first slot is now (the work it replaces ran at start); a cron schedule's is its next time.
    """
    async with db.session() as session:
        now = await session.scalar(select(func.now()))
        assert now is not None
        for task in tasks:
            if not task.scheduled:
                continue
            interval_s = task.interval_s(settings)
            first = next_run(task.cron, interval_s, after=now)
            statement = insert(JobSchedule).values(
                name=task.name, task=task.name, cron=task.cron, interval_s=interval_s, next_run_at=first, enabled=True
            )
            changed = (JobSchedule.cron.is_distinct_from(statement.excluded.cron)) | (
                JobSchedule.interval_s.is_distinct_from(statement.excluded.interval_s)
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["name"],
                    set_={
                        "task": statement.excluded.task,
                        "cron": statement.excluded.cron,
                        "interval_s": statement.excluded.interval_s,
                        # a changed schedule starts over at its new first slot
                        "next_run_at": case((changed, statement.excluded.next_run_at), else_=JobSchedule.next_run_at),
                        "updated_at": func.now(),
                    },
                )
            )


def _schedule_key(name: str) -> str:
    return f"schedule:{name}:"


async def run_due_schedules(db: Database, names: Collection[str], *, now: datetime | None = None) -> list[uuid.UUID]:
    """Enqueues one job for each due schedule among `names`; returns the new jobs' ids.

    Exactly once across processes: the schedule row is locked (`FOR UPDATE SKIP LOCKED`, so a second scheduler
    passes it by) and moved to its next slot in the same transaction as the enqueue, whose dedupe key
    `schedule:<name>:<slot>` would also refuse a second job for one slot. A schedule whose last job has not started
    yet is not enqueued again (a slow or stopped worker does not pile up runs)."""
    if not names:
        return []
    created: list[uuid.UUID] = []
    async with db.session() as session:
        now = now or await session.scalar(select(func.now()))
        assert now is not None
        due = await session.scalars(
            select(JobSchedule)
            .where(JobSchedule.enabled, JobSchedule.next_run_at <= now, JobSchedule.name.in_(list(names)))
            .order_by(JobSchedule.next_run_at)
            .with_for_update(skip_locked=True)
        )
        for schedule in due:
            slot = schedule.next_run_at
            waiting = await session.scalar(
                select(Job.id)
                .where(
                    Job.status == "queued",
                    Job.task == schedule.task,
                    Job.dedupe_key.startswith(_schedule_key(schedule.name), autoescape=True),
                )
                .limit(1)
            )
            if waiting is None:
                key = f"{_schedule_key(schedule.name)}{slot.isoformat()}"
                job = await enqueue(session, schedule.task, {"slot": slot.isoformat()}, dedupe_key=key)
                if job.created:
                    created.append(job.id)
            schedule.last_run_at = now
            schedule.next_run_at = next_run(schedule.cron, schedule.interval_s, after=now, slot=slot)
    return created


async def list_schedules(session: AsyncSession) -> list[JobSchedule]:
    """Every schedule the workers have written, by name."""
    return list(await session.scalars(select(JobSchedule).order_by(JobSchedule.name)))


async def page_schedules(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[JobSchedule], int]:
    """A page of the schedules by name (the primary key, so a page never repeats or skips one) and their count."""
    return await page(session, select(JobSchedule).order_by(JobSchedule.name), limit, offset)


async def set_schedule_enabled(session: AsyncSession, name: str, enabled: bool) -> JobSchedule:
    """Turns a schedule on or off; workers keep the flag when they write the schedules again. Turned back on, it
    starts at its next slot from now (the slots it missed are not fired)."""
    schedule = await session.get(JobSchedule, name, with_for_update=True)
    if schedule is None:
        known = ", ".join(s.name for s in await list_schedules(session)) or "none yet (start a worker once)"
        raise NotFound(f"No schedule named {name!r}. Known: {known}.", code="schedule_not_found")
    if enabled and not schedule.enabled:
        now = await session.scalar(select(func.now()))
        assert now is not None
        schedule.next_run_at = next_run(schedule.cron, schedule.interval_s, after=now, slot=schedule.next_run_at)
    schedule.enabled = enabled
    await session.flush()
    return schedule


# --- the API's view ----------------------------------------------------------------------------------------------


def _listing() -> Select[Any]:
    # `source` stays in the API's rows: every job is in this table now (ingestion's too, decision 9 amended).
    return select(*Job.__table__.c, literal("jobs", String).label("source"))


async def list_jobs(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    status: Collection[str] | None = None,
    task: str | None = None,
) -> tuple[list[Row[Any]], int]:
    """A workspace's jobs, newest first; `task` matches a name or a dotted prefix of names."""
    query = _listing().where(Job.workspace_id == workspace_id)
    if status:
        query = query.where(Job.status.in_(list(status)))
    if task:
        query = query.where((Job.task == task) | Job.task.startswith(f"{task}.", autoescape=True))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset))
    return list(rows), total


async def get_job(session: AsyncSession, workspace_id: uuid.UUID, job_id: uuid.UUID) -> Row[Any]:
    found = await session.execute(_listing().where(Job.id == job_id, Job.workspace_id == workspace_id))
    row: Row[Any] | None = found.first()
    if row is None:
        raise NotFound(f"No job '{job_id}' in this workspace.", code="job_not_found")
    return row


async def cancel_job(session: AsyncSession, workspace_id: uuid.UUID, job_id: uuid.UUID) -> Row[Any]:
    """Cancels a queued or running job (a running one stops at its next heartbeat)."""
    job = await _own(session, workspace_id, job_id)
    if job.status in ("queued", "running"):
        job.status, job.finished_at, job.heartbeat_at = "cancelled", func.now(), None
        await session.flush()
        await _changed(session, job.task, JobChange(job.id, "cancelled", "cancelled", CANCELLED))
    else:
        raise Conflict(f"The job is {job.status}; only a queued or running job can be cancelled.", code="job_finished")
    return await get_job(session, workspace_id, job_id)


async def retry_job(session: AsyncSession, workspace_id: uuid.UUID, job_id: uuid.UUID) -> Row[Any]:
    """Queues a failed or cancelled job again, now, with its task's full number of attempts."""
    job = await _own(session, workspace_id, job_id)
    if job.status in ("failed", "cancelled"):
        await requeue(session, job)
        await _changed(session, job.task, JobChange(job.id, "retried", "queued"))
    else:
        raise Conflict(
            f"The job is {job.status}; only a failed or cancelled job can be retried.", code="job_not_failed"
        )
    return await get_job(session, workspace_id, job_id)


async def requeue(session: AsyncSession, job: Job) -> None:
    """Queues a finished job again, now, with its task's full number of attempts (the caller checked it may)."""
    known = registry.find(job.task)
    # `attempts` keeps counting (it is the lease): the allowance grows instead.
    job.max_attempts = job.attempts + (known.retry if known else _DEFAULT_POLICY).max_attempts
    job.status, job.run_after, job.finished_at, job.heartbeat_at = "queued", func.now(), None, None
    await session.flush()


async def _own(session: AsyncSession, workspace_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    job = await session.scalar(select(Job).where(Job.id == job_id, Job.workspace_id == workspace_id).with_for_update())
    if job is None:
        raise NotFound(f"No job '{job_id}' in this workspace.", code="job_not_found")
    return job
