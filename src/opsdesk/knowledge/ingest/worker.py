"""The ingestion worker: claims jobs from PostgreSQL and runs them, in its own process or inside `opsdesk up`.

Run it alone with `opsdesk worker` or `python -m opsdesk.knowledge.ingest.worker`; any number of workers may share one
database. Inside the server, `start_in_process(ctx)` starts one as a background task when
`settings.worker_in_process` is set, and `stop_in_process(ctx)` hands its running jobs back to the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.core import telemetry
from opsdesk.core.logging import configure_logging, get_logger
from opsdesk.core.settings import get_settings
from opsdesk.jobs.worker import PollingWorker
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.ingest.jobs import STALE_AFTER_S, Lease
from opsdesk.knowledge.ingest.runner import JobRunner

_log = get_logger(__name__)
EXTRAS_KEY = "knowledge.worker"


class IngestionWorker(PollingWorker[AppContext]):
    """Claims up to `max_jobs` jobs at a time (heavy work is bounded by `ingest_concurrency` across them)."""

    kind = "ingest"

    def __init__(
        self,
        ctx: AppContext,
        *,
        poll_s: float = 1.0,
        stale_after_s: float = STALE_AFTER_S,
        heartbeat_s: float = 5.0,
        max_jobs: int | None = None,
    ) -> None:
        super().__init__(ctx, poll_s=poll_s)
        self.stale_after_s = stale_after_s
        self.runner = JobRunner(ctx, heartbeat_s=min(heartbeat_s, stale_after_s / 3))
        self.max_jobs = max_jobs or max(1, ctx.settings.ingest_concurrency)

    def describe(self) -> dict[str, Any]:
        return {"max_jobs": self.max_jobs, "stale_after_s": self.stale_after_s}

    async def has_work(self) -> bool:
        return await jobs.has_work(self.ctx.db)

    async def tick(self) -> None:
        while len(self._running) < self.max_jobs and not self._stopping.is_set():
            lease = await jobs.claim(self.ctx.db, stale_after_s=self.stale_after_s)
            if lease is None:
                return
            self._spawn(self._run_job(lease), f"ingest-job-{lease.job_id}")

    async def _run_job(self, lease: Lease) -> None:
        try:
            with telemetry.span("job.ingest", **{"opsdesk.job_id": str(lease.job_id)}):
                await self.runner.run(lease)
        except asyncio.CancelledError:
            # A graceful stop: the job goes back to the queue at once instead of waiting to look abandoned.
            with contextlib.suppress(Exception):
                await asyncio.shield(jobs.release(self.ctx.db, lease))
            raise
        except Exception:
            _log.exception("ingest_job_runner_failed", job_id=str(lease.job_id))


async def run_pending_jobs(ctx: AppContext) -> None:
    """Runs every queued job in this process and returns when none is queued or running (tests, CLI, benchmarks)."""
    await IngestionWorker(ctx, poll_s=0.05).run(until_idle=True)


async def start_in_process(ctx: AppContext) -> IngestionWorker | None:
    """Starts a worker inside this process when `settings.worker_in_process` is set (what `opsdesk up` calls)."""
    if not ctx.settings.worker_in_process:
        return None
    worker = IngestionWorker(ctx)
    worker.start()
    ctx.extras[EXTRAS_KEY] = worker
    return worker


async def stop_in_process(ctx: AppContext) -> None:
    """Stops the worker `start_in_process` started, if any (call before `ctx.close()`)."""
    worker = ctx.extras.pop(EXTRAS_KEY, None)
    if isinstance(worker, IngestionWorker):
        await worker.stop()


async def serve(*, stale_after_s: float, heartbeat_s: float, poll_s: float, until_idle: bool) -> None:
    """A standalone worker process until SIGTERM/SIGINT (then its jobs go back to the queue)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.worker_nice > 0:
        # Ingestion is CPU-bound (embeddings); a lower priority keeps query latency on shared cores.
        os.nice(settings.worker_nice)
    ctx = await AppContext.open(settings)
    worker = IngestionWorker(ctx, poll_s=poll_s, stale_after_s=stale_after_s, heartbeat_s=heartbeat_s)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.request_stop)
    try:
        await worker.run(until_idle=until_idle)
    finally:
        await ctx.close()
        ctx.db.stop_server()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m opsdesk.knowledge.ingest.worker", description=__doc__)
    parser.add_argument(
        "--stale-after", type=float, default=STALE_AFTER_S, help="seconds before a silent job is reclaimed"
    )
    parser.add_argument("--heartbeat", type=float, default=5.0, help="seconds between heartbeats")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks at the queue")
    parser.add_argument("--until-idle", action="store_true", help="exit when no job is queued or running")
    args = parser.parse_args(argv)
    asyncio.run(
        serve(stale_after_s=args.stale_after, heartbeat_s=args.heartbeat, poll_s=args.poll, until_idle=args.until_idle)
    )


if __name__ == "__main__":
    main()
