"""The job queue on real PostgreSQL: transactional enqueue, one claim per job across workers, retries with backoff,
jobs of a dead worker reclaimed, and schedules that enqueue each slot once however many schedulers run."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.db.engine import Database
from opsdesk.jobs import registry, service
from opsdesk.jobs.models import Job
from opsdesk.jobs.registry import JobFailed, JobRun, task
from opsdesk.jobs.worker import JobWorker, run_pending

RAN: Counter[str] = Counter()


@task("tests.count", max_attempts=3)
async def count(ctx: Any, job: JobRun) -> dict[str, Any]:
    RAN[str(job.payload["key"])] += 1
    await asyncio.sleep(0.01)  # long enough for the other worker to be claiming at the same time
    return {"key": job.payload["key"], "attempt": job.attempt}


@task("tests.flaky", max_attempts=3, backoff_base_s=60.0, backoff_cap_s=600.0)
async def flaky(ctx: Any, job: JobRun) -> str:
    if job.attempt < int(job.payload["succeed_on"]):
        raise RuntimeError(f"attempt {job.attempt} broke")
    return "fine"


@task("tests.refused")
async def refused(ctx: Any, job: JobRun) -> None:
    raise JobFailed("The invoice was refused; trying again will not help.")


@task("tests.tick", every=60.0)
async def tick(ctx: Any, job: JobRun) -> None:
    return None


async def _job(ctx: AppContext, job_id: uuid.UUID) -> Job:
    async with ctx.db.session() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job


async def _count(ctx: AppContext, **where: Any) -> int:
    async with ctx.db.session() as session:
        query = select(func.count()).select_from(Job).filter_by(**where)
        return int(await session.scalar(query) or 0)


async def test_a_job_enqueued_in_a_rolled_back_transaction_does_not_exist(ctx: AppContext) -> None:
    with pytest.raises(RuntimeError):
        async with ctx.db.session() as session:
            await service.enqueue(session, "tests.count", {"key": "lost"})
            raise RuntimeError("the request failed after enqueueing")

    assert await _count(ctx) == 0

    async with ctx.db.session() as session:
        kept = await service.enqueue(session, "tests.count", {"key": "kept"})
    assert (await _job(ctx, kept.id)).status == "queued"


async def test_enqueueing_twice_with_one_dedupe_key_makes_one_job(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        first = await service.enqueue(session, "tests.count", {"key": "a"}, dedupe_key="order:42:invoice")
    async with ctx.db.session() as session:
        again = await service.enqueue(session, "tests.count", {"key": "a"}, dedupe_key="order:42:invoice")

    assert first.created and not again.created and again.id == first.id
    assert await _count(ctx) == 1


async def test_each_job_runs_once_when_two_workers_claim_at_the_same_time(ctx: AppContext, settings: Any) -> None:
    keys = [f"job-{i}" for i in range(12)]
    async with ctx.db.session() as session:
        for key in keys:
            await service.enqueue(session, "tests.count", {"key": key})
    other = Database(settings)  # a second process's pool
    await other.connect(migrate=False)
    try:
        second = AppContext(ctx.settings, other, ctx.recorder, ctx.providers, ctx.limiter)
        only = {"tests.count": registry.get("tests.count")}
        await asyncio.gather(
            JobWorker(ctx, tasks=only, poll_s=0.02, schedules=False).run(until_idle=True),
            JobWorker(second, tasks=only, poll_s=0.02, schedules=False).run(until_idle=True),
        )
    finally:
        await other.close()

    assert {key: RAN[key] for key in keys} == dict.fromkeys(keys, 1)
    assert await _count(ctx, status="succeeded", attempts=1) == len(keys)


async def test_a_claim_race_gives_the_job_to_one_claimant(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        await service.enqueue(session, "tests.count", {"key": "race"})

    leases = await asyncio.gather(*(service.claim(ctx.db, ["tests.count"]) for _ in range(4)))

    assert sum(lease is not None for lease in leases) == 1


async def test_a_failed_attempt_is_retried_after_its_backoff(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        job_id = (await service.enqueue(session, "tests.flaky", {"succeed_on": 2})).id

    await run_pending(ctx, tasks={"tests.flaky": registry.get("tests.flaky")})

    failed_once = await _job(ctx, job_id)
    assert failed_once.status == "queued" and failed_once.attempts == 1
    assert failed_once.last_error == "RuntimeError: attempt 1 broke"
    waits = failed_once.run_after - failed_once.updated_at
    assert timedelta(seconds=30) <= waits <= timedelta(seconds=60)  # base 60 s, jittered to half..all of it
    assert await service.claim(ctx.db, ["tests.flaky"]) is None  # not before its time

    lease = await service.claim(ctx.db, ["tests.flaky"], now=failed_once.run_after + timedelta(seconds=1))

    assert lease is not None and lease.attempt == 2
    assert await service.complete(ctx.db, lease, "fine")
    done = await _job(ctx, job_id)
    assert done.status == "succeeded" and done.result == "fine" and done.last_error is None


async def test_the_last_failed_attempt_fails_the_job(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        job_id = (await service.enqueue(session, "tests.flaky", {"succeed_on": 9}, max_attempts=1)).id

    await run_pending(ctx, tasks={"tests.flaky": registry.get("tests.flaky")})

    job = await _job(ctx, job_id)
    assert job.status == "failed" and job.attempts == 1 and job.finished_at is not None


async def test_a_task_that_raises_job_failed_is_not_retried(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        job_id = (await service.enqueue(session, "tests.refused")).id

    await run_pending(ctx, tasks={"tests.refused": registry.get("tests.refused")})

    job = await _job(ctx, job_id)
    assert job.status == "failed" and job.attempts == 1 and job.max_attempts == 3
    assert job.last_error == "The invoice was refused; trying again will not help."


async def test_the_job_of_a_worker_that_died_is_reclaimed_and_its_old_lease_is_void(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        job_id = (await service.enqueue(session, "tests.count", {"key": "crash"}, max_attempts=2)).id
    dead = await service.claim(ctx.db, ["tests.count"])  # then the worker is killed: no heartbeat, no outcome
    assert dead is not None
    assert await service.reclaim_stale(ctx.db, stale_after_s=30) == 0  # still fresh
    later = (await _job(ctx, job_id)).heartbeat_at
    assert later is not None

    assert await service.reclaim_stale(ctx.db, stale_after_s=30, now=later + timedelta(seconds=31)) == 1

    requeued = await _job(ctx, job_id)
    assert requeued.status == "queued" and "stopped without finishing" in (requeued.last_error or "")
    taken_over = await service.claim(ctx.db, ["tests.count"])
    assert taken_over is not None and taken_over.attempt == 2
    assert not await service.heartbeat(ctx.db, dead)  # the dead worker's writes no longer count
    assert not await service.complete(ctx.db, dead, "late")
    await service.reclaim_stale(ctx.db, stale_after_s=30, now=later + timedelta(minutes=5))
    given_up = await _job(ctx, job_id)
    assert given_up.status == "failed" and given_up.attempts == 2  # its last attempt also died


async def test_a_worker_puts_back_only_the_silent_jobs_of_its_own_tasks(ctx: AppContext) -> None:
    """The task that runs a job is the one to hear that its worker died (its `on_change`), so only a worker that has
    the task puts the job back."""
    async with ctx.db.session() as session:
        counted = (await service.enqueue(session, "tests.count", {"key": "silent"})).id
        flaky_id = (await service.enqueue(session, "tests.flaky", {"succeed_on": 1})).id
    for name in ("tests.count", "tests.flaky"):
        assert await service.claim(ctx.db, [name]) is not None  # then both workers are killed
    later = (await _job(ctx, flaky_id)).heartbeat_at
    assert later is not None
    stale = later + timedelta(seconds=31)

    assert await service.reclaim_stale(ctx.db, stale_after_s=30, now=stale, tasks=["tests.count"]) == 1
    assert ((await _job(ctx, counted)).status, (await _job(ctx, flaky_id)).status) == ("queued", "running")


async def _stopped_once(ctx: AppContext, name: str, reached: asyncio.Event) -> Job:
    """Enqueues one job of the task, runs a worker until the task sets ``reached``, stops it; the job after."""
    async with ctx.db.session() as session:
        job_id = (await service.enqueue(session, name)).id
    worker = JobWorker(ctx, tasks={name: registry.get(name)}, poll_s=0.02, schedules=False)
    worker.start()
    await asyncio.wait_for(reached.wait(), 30)
    await worker.stop()
    return await _job(ctx, job_id)


async def test_a_graceful_stop_hands_the_running_job_back_uncounted(ctx: AppContext) -> None:
    started = asyncio.Event()

    @task("tests.slow")
    async def slow(ctx: Any, job: JobRun) -> None:
        started.set()
        await asyncio.sleep(60)

    job = await _stopped_once(ctx, "tests.slow", started)
    assert job.status == "queued" and job.attempts == 0


async def test_a_stop_as_a_job_finishes_records_it_instead_of_running_it_again(ctx: AppContext) -> None:
    """A job whose task had returned when the stop came is recorded as done, not handed back to run twice."""
    finished = asyncio.Event()

    @task("tests.quick")
    async def quick(ctx: Any, job: JobRun) -> dict[str, int]:
        finished.set()
        return {"posted": 1}

    job = await _stopped_once(ctx, "tests.quick", finished)
    assert (job.status, job.result, job.attempts) == ("succeeded", {"posted": 1}, 1)


async def test_two_schedulers_at_once_enqueue_a_due_schedule_once(ctx: AppContext, settings: Any) -> None:
    await service.sync_schedules(ctx.db, [registry.get("tests.tick")], ctx.settings)
    others = [Database(settings) for _ in range(2)]
    for db in others:
        await db.connect(migrate=False)
    try:
        rounds = await asyncio.gather(*(service.run_due_schedules(db, ["tests.tick"]) for db in (ctx.db, *others)))
        again = await asyncio.gather(*(service.run_due_schedules(db, ["tests.tick"]) for db in (ctx.db, *others)))
    finally:
        for db in others:
            await db.close()

    assert sorted(len(created) for created in rounds) == [0, 0, 1]
    assert again == [[], [], []]  # the next slot is a minute away
    assert await _count(ctx, task="tests.tick") == 1


async def test_a_schedule_whose_last_job_has_not_started_is_not_enqueued_again(ctx: AppContext) -> None:
    await service.sync_schedules(ctx.db, [registry.get("tests.tick")], ctx.settings)
    [first] = await service.run_due_schedules(ctx.db, ["tests.tick"])
    later = (await _job(ctx, first)).run_after + timedelta(minutes=5)

    assert await service.run_due_schedules(ctx.db, ["tests.tick"], now=later) == []  # the first is still queued

    lease = await service.claim(ctx.db, ["tests.tick"])
    assert lease is not None and await service.complete(ctx.db, lease)
    [second] = await service.run_due_schedules(ctx.db, ["tests.tick"], now=later + timedelta(minutes=1))
    assert second != first


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = registry.RetryPolicy(max_attempts=5, base_s=10, cap_s=60)

    assert [policy.backoff_s(n, jitter=lambda: 1.0) for n in (1, 2, 3, 4)] == [10, 20, 40, 60]
    assert policy.backoff_s(3, jitter=lambda: 0.0) == 20  # half of 40
