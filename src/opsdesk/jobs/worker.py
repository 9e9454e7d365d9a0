"""The job worker: fires due schedules, reclaims jobs of workers that died, claims jobs and runs their tasks.

`opsdesk worker` runs one in its own process, `opsdesk up` one inside the server; any number may share a database.
A running job's heartbeat is beaten every `heartbeat_s`; when that finds the job no longer this worker's (cancelled
over the API, or reclaimed after this worker stalled), the task is cancelled. On a graceful stop running jobs go
back to the queue without counting the attempt. `PollingWorker` is the loop it shares with the event relay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping
from typing import Any, Generic, Protocol, TypeVar

from opsdesk.core import telemetry
from opsdesk.core.logging import get_logger
from opsdesk.core.settings import Settings
from opsdesk.db.engine import Database
from opsdesk.jobs import registry, service
from opsdesk.jobs.registry import JobFailed, JobRun, Task
from opsdesk.jobs.service import STALE_AFTER_S, Lease

_log = get_logger(__name__)
EXTRAS_KEY = "jobs.worker"


class Runtime(Protocol):
    """What a worker needs of the process (opsdesk.app.context.AppContext is one); tasks get the same object."""

    settings: Settings
    db: Database
    extras: dict[str, Any]


_R = TypeVar("_R", bound=Runtime)


class PollingWorker(Generic[_R]):
    """The loop every worker shares: look at the queue, run what was claimed as tasks, stop on request or when idle.

    A subclass says how to look (`tick`), whether work is left anywhere (`has_work`) and what its log lines name.
    """

    kind = "worker"  # names the log events (`<kind>_worker_started` …) and the background task (`<kind>-worker`)

    def __init__(self, ctx: _R, *, poll_s: float) -> None:
        self.ctx = ctx
        self.poll_s = poll_s
        self._log = get_logger(type(self).__module__)
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        """One look at the queue: claims (and starts with `_spawn`) what this worker may run now."""
        raise NotImplementedError

    async def has_work(self) -> bool:
        """True while any of this worker's kind of job is due or running, here or in another worker."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What the started log line says about this worker."""
        return {}

    async def run(self, *, until_idle: bool = False) -> None:
        """Works until `stop()`, or with `until_idle` until no job is due or running anywhere."""
        self._log.info(f"{self.kind}_worker_started", **self.describe())
        try:
            while not self._stopping.is_set():
                try:
                    await self.tick()
                    if until_idle and not self._running and not await self.has_work():
                        return
                except Exception as exc:  # the database is away: keep the worker alive and try again
                    self._log.warning(f"{self.kind}_worker_poll_failed", error=f"{type(exc).__name__}: {exc}")
                await self._wait()
        finally:
            await self._cancel_running()
            self._log.info(f"{self.kind}_worker_stopped")

    def _spawn(self, job: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(job, name=name)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _wait(self) -> None:
        """Until the poll interval passes, a job ends or a stop is asked for."""
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({stop, *self._running}, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()

    async def _cancel_running(self) -> None:
        for job in list(self._running):
            job.cancel()
        await asyncio.gather(*list(self._running), return_exceptions=True)

    def start(self) -> asyncio.Task[None]:
        """Runs the worker as a background task of this process."""
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name=f"{self.kind}-worker")
        return self._task

    def request_stop(self) -> None:
        """Asks the worker to stop (safe from a signal handler)."""
        self._stopping.set()

    async def stop(self) -> None:
        """Stops claiming, hands running jobs back to the queue and waits for the worker to end."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        else:
            await self._cancel_running()


class JobWorker(PollingWorker[Runtime]):
    """Runs up to `concurrency` jobs at a time of the tasks it is given (default: every registered task)."""

    kind = "job"

    def __init__(
        self,
        ctx: Runtime,
        *,
        tasks: Mapping[str, Task] | None = None,
        concurrency: int = 4,
        poll_s: float = 1.0,
        stale_after_s: float = STALE_AFTER_S,
        heartbeat_s: float = 5.0,
        schedules: bool = True,
    ) -> None:
        super().__init__(ctx, poll_s=poll_s)
        self.tasks = dict(tasks if tasks is not None else registry.registered())
        self.concurrency = max(1, concurrency)
        self.stale_after_s = stale_after_s
        self.heartbeat_s = min(heartbeat_s, stale_after_s / 3)
        self.schedules = schedules
        self._synced = False

    def describe(self) -> dict[str, Any]:
        return {"tasks": sorted(self.tasks), "concurrency": self.concurrency}

    async def has_work(self) -> bool:
        return await service.has_work(self.ctx.db, self.tasks)

    async def tick(self) -> None:
        """One look at the queue: due schedules, stale jobs, then claims up to the concurrency."""
        db = self.ctx.db
        if self.schedules:
            if not self._synced:
                await service.sync_schedules(db, self.tasks.values(), self.ctx.settings)
                self._synced = True
            await service.run_due_schedules(db, [t.name for t in self.tasks.values() if t.scheduled])
        await service.reclaim_stale(db, stale_after_s=self.stale_after_s, tasks=self.tasks)
        while len(self._running) < self.concurrency and not self._stopping.is_set():
            lease = await service.claim(db, self.tasks)
            if lease is None:
                return
            self._spawn(self._run_job(lease), f"job-{lease.task}-{lease.job_id}")

    async def run_claimed(self, lease: Lease) -> None:
        """Runs one job claimed outside the loop (`opsdesk knowledge ingest` runs its own job so), with heartbeats."""
        await self._run_job(lease)

    async def _run_job(self, lease: Lease) -> None:
        attributes = {"opsdesk.job_id": str(lease.job_id), "opsdesk.job_attempt": lease.attempt}
        # The run continues the trace of the request that enqueued it (when tracing is on).
        with telemetry.continued_span(f"job {lease.task}", lease.trace_context, **attributes):
            await self._run_job_body(lease)

    async def _run_job_body(self, lease: Lease) -> None:
        task = self.tasks[lease.task]
        run = JobRun(lease.job_id, lease.task, lease.workspace_id, lease.payload, lease.attempt, lease.last_attempt)
        body: asyncio.Future[Any] = asyncio.ensure_future(task.function(self.ctx, run))
        try:
            while not body.done():
                await asyncio.wait({body}, timeout=self.heartbeat_s)
                if not body.done() and not await self._beat(lease):
                    _log.warning("job_lease_lost", job_id=str(lease.job_id), task=lease.task)
                    body.cancel()
                    await asyncio.gather(body, return_exceptions=True)
                    return
            await self._record(lease, task, body)
        except asyncio.CancelledError:  # the worker is stopping: an unfinished job goes back to the queue
            if body.done() and not body.cancelled():  # it had finished: record it rather than run it again
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._record(lease, task, body))
                raise
            body.cancel()
            await asyncio.gather(body, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.shield(service.release(self.ctx.db, lease))
            raise

    async def _record(self, lease: Lease, task: Task, body: asyncio.Future[Any]) -> None:
        db = self.ctx.db
        error = body.exception()
        if error is None:
            await service.complete(db, lease, body.result())
            _log.info("job_succeeded", job_id=str(lease.job_id), task=lease.task, attempt=lease.attempt)
            return
        permanent = isinstance(error, JobFailed)
        message = str(error) if permanent else f"{type(error).__name__}: {error}"
        failure = await service.fail(db, lease, message, task.retry, retry=not permanent)
        outcome = failure.status if failure is not None else "lost"
        log = _log.warning if outcome == "queued" else _log.error
        log("job_failed", job_id=str(lease.job_id), task=lease.task, attempt=lease.attempt, then=outcome, error=message)

    async def _beat(self, lease: Lease) -> bool:
        try:
            return await service.heartbeat(self.ctx.db, lease)
        except Exception as exc:  # the database blinked; the next beat decides
            _log.warning("job_heartbeat_failed", error=f"{type(exc).__name__}: {exc}")
            return True

    async def aclose(self) -> None:
        """Stops the worker, so that the context's close() stops one parked in its extras."""
        await self.stop()


async def run_pending(ctx: Runtime, *, tasks: Mapping[str, Task] | None = None, schedules: bool = False) -> None:
    """Runs every due job in this process and returns when none is due or running (tests, CLI)."""
    await JobWorker(ctx, tasks=tasks, poll_s=0.05, schedules=schedules).run(until_idle=True)


def start_in_process(ctx: Runtime, **options: Any) -> JobWorker:
    """Starts a worker inside this process (what `opsdesk up` calls); one per process."""
    found = ctx.extras.get(EXTRAS_KEY)
    if isinstance(found, JobWorker):
        return found
    worker = ctx.extras[EXTRAS_KEY] = JobWorker(ctx, **options)
    worker.start()
    return worker


async def stop_in_process(ctx: Runtime) -> None:
    """Stops the worker `start_in_process` started, if any (call before `ctx.close()`)."""
    worker = ctx.extras.pop(EXTRAS_KEY, None)
    if isinstance(worker, JobWorker):
        await worker.stop()
