"""Query latency while a large ingestion runs, against the same latency idle.

    .venv/bin/python bench/ingest_under_load.py --data ../shared/data/scifact [--json]

A throwaway embedded PostgreSQL (temp dir) gets a base knowledge base of `--base-docs` SciFact documents; the test
queries run against it idle, then again while `--load-docs` more documents are ingested into a second knowledge
base. Target: p95 rises by at most 30%. Where the ingestion runs (`--mode`):

- `in-process` (default, as `opsdesk up` runs it): a job worker running `knowledge.ingest` inside the querying
  process, its embedding threads at `OPSDESK_WORKER_NICE` (default 10);
- `process`: a standalone worker process (`opsdesk worker`), which lowers its own priority to `OPSDESK_WORKER_NICE`;
- `busy-loop`: no ingestion at all, only a process spinning in `while True: pass` at Linux's idle CPU class
  (SCHED_IDLE) for 30 s: what any background work on the other core costs the queries, whatever its priority.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text

from bench._ingest import ingest_corpus, queue_corpus
from bench._results import publish
from bench._stats import percentile
from bench.retrieval import load
from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.core.settings import Settings
from opsdesk.db.embedded import EmbeddedPostgres
from opsdesk.jobs.worker import JobWorker
from opsdesk.knowledge.ingest.worker import ingestion_tasks
from opsdesk.knowledge.models import Document, KnowledgeBase
from opsdesk.knowledge.query.retrieval import Retriever, SearchOptions

TARGET_RISE = 0.30
# A process that only spins, at Linux's lowest CPU class: it runs only when no other thread wants a core.
_SPIN = "import os\nos.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\nwhile True: pass"
_SPIN_SECONDS = 30.0
console = Console(stderr=True)


class _Phase:
    """Latencies of one phase, in total and by stage of the search (embed, keyword, semantic, details)."""

    def __init__(self) -> None:
        self.totals: list[float] = []
        self.stages: dict[str, list[float]] = {}

    async def query(self, ctx: AppContext, retriever: Retriever, kb: KnowledgeBase, query: str) -> None:
        started = time.perf_counter()
        async with ctx.db.session() as session:
            result = await retriever.search(
                session, workspace_id=kb.workspace_id, kbs=[kb], query=query, options=SearchOptions(mode="hybrid")
            )
        self.totals.append((time.perf_counter() - started) * 1000)
        for stage, ms in result.timings_ms.items():
            self.stages.setdefault(stage, []).append(ms)

    def summary(self) -> dict[str, Any]:
        return {
            "p50_ms": round(percentile(self.totals, 0.50), 2),
            "p95_ms": round(percentile(self.totals, 0.95), 2),
            "queries": len(self.totals),
            "stage_p95_ms": {stage: round(percentile(values, 0.95), 2) for stage, values in self.stages.items()},
        }


async def _settle(ctx: AppContext) -> None:
    """VACUUM ANALYZE, so the idle measurement does not share the machine with autovacuum catching up on a load."""
    async with ctx.db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


async def _settled_documents(ctx: AppContext, kb: KnowledgeBase) -> int:
    async with ctx.db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.kb_id == kb.id, Document.status.in_(("ready", "failed")))
        )
    return int(count or 0)


async def _ready_documents(ctx: AppContext, kb: KnowledgeBase) -> int:
    async with ctx.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Document).where(Document.kb_id == kb.id, Document.status == "ready")
        )
    return int(count or 0)


async def _spawn_worker(settings: Settings) -> asyncio.subprocess.Process:
    assert settings.database_url is not None
    env = {
        **os.environ,
        "OPSDESK_DATABASE_URL": settings.database_url.get_secret_value(),
        "OPSDESK_DATA_DIR": str(settings.data_dir),
        "OPSDESK_LOCAL_LLM_ENABLED": "false",
        "OPSDESK_LOG_LEVEL": "WARNING",
        "OPSDESK_WORKER_NICE": str(settings.worker_nice),
    }
    command = [sys.executable, "-m", "opsdesk.cli", "worker", "--until-idle"]
    return await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.DEVNULL)


def _signal(process: asyncio.subprocess.Process | None, signum: int) -> None:
    if process is not None and process.returncode is None:
        process.send_signal(signum)


class _InProcess:
    """The in-process worker, watched until the bulk knowledge base is fully ingested."""

    def __init__(self, ctx: AppContext, bulk: KnowledgeBase, expected: int) -> None:
        self.ctx, self.bulk, self.expected = ctx, bulk, expected
        self.worker = JobWorker(ctx, tasks=ingestion_tasks(), poll_s=0.2, schedules=False)
        self.worker.start()
        self.done = False

    async def check(self) -> bool:
        self.done = self.done or await _settled_documents(self.ctx, self.bulk) >= self.expected
        return self.done

    async def stop(self) -> None:
        await self.worker.stop()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data = load(Path(args.data), "test", None)
    queries = list(data.queries.values())
    base_docs, load_docs = data.docs[: args.base_docs], data.docs[args.base_docs : args.base_docs + args.load_docs]
    tmp = tempfile.TemporaryDirectory(prefix="opsdesk-bench-")
    os.chmod(tmp.name, 0o755)
    server = EmbeddedPostgres(Path(tmp.name), cleanup_mode="delete")
    server.start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=Path(tmp.name),
        database_url=SecretStr(server.url("asyncpg")),
        local_llm_enabled=False,
        log_level="WARNING",
        worker_in_process=False,
        worker_nice=args.worker_nice,
    )
    ctx = await AppContext.open(settings)
    try:
        async with ctx.db.session() as session:
            workspace = await auth.create_workspace(session, "bench")
            base = KnowledgeBase(workspace_id=workspace.id, name="base", description="", tags=[], content_version=0)
            bulk = KnowledgeBase(workspace_id=workspace.id, name="bulk", description="", tags=[], content_version=0)
            session.add_all([base, bulk])
        console.print(f"base knowledge base: ingesting {len(base_docs):,} documents …")
        await ingest_corpus(ctx, base, base_docs)
        retriever = Retriever(ctx.providers.embedder())
        for query in queries[:20]:  # warm-up: model, caches, plans
            await _Phase().query(ctx, retriever, base, query)
        await _settle(ctx)
        idle, loaded, paused, after = _Phase(), _Phase(), _Phase(), _Phase()
        for query in queries:
            await idle.query(ctx, retriever, base, query)

        if args.mode == "busy-loop":
            console.print(f"no ingestion: a busy loop at the idle CPU class for {_SPIN_SECONDS:.0f} s …")
        else:
            console.print(f"queueing {len(load_docs):,} documents; ingestion runs {args.mode} …")
            await queue_corpus(ctx, bulk, load_docs, per_job=200)
        started = time.perf_counter()
        loader: asyncio.subprocess.Process | None = None  # the process that makes the load, when it is one
        if args.mode == "busy-loop":
            loader = await asyncio.create_subprocess_exec(sys.executable, "-c", _SPIN)

            async def finished() -> bool:
                return time.perf_counter() - started >= _SPIN_SECONDS

        elif args.mode == "process":
            loader = await _spawn_worker(settings)

            async def finished() -> bool:
                assert loader is not None
                try:
                    await asyncio.wait_for(loader.wait(), timeout=0.01)
                except TimeoutError:
                    return False
                return True

        else:
            in_process = _InProcess(ctx, bulk, len(load_docs))
            finished = in_process.check
        interleave = args.interleave and loader is not None
        try:
            done, position, window = False, 0, 50
            while not done and time.perf_counter() - started < args.max_seconds:
                # Every other window of queries runs with the load paused (SIGSTOP), on the same data at the same
                # time: a baseline that neither table growth nor the machine's drift over minutes can move.
                pausing = interleave and position // window % 2 == 1
                if pausing:
                    _signal(loader, signal.SIGSTOP)
                    await asyncio.sleep(1.0)  # the database finishes what the stopped worker had asked
                phase = paused if pausing else loaded
                for offset in range(window):
                    await phase.query(ctx, retriever, base, queries[(position + offset) % len(queries)])
                if pausing:
                    _signal(loader, signal.SIGCONT)
                position += window
                done = await finished()
        finally:
            if loader is not None:
                _signal(loader, signal.SIGCONT)
                if loader.returncode is None:
                    loader.terminate()
                    await loader.wait()
            else:
                await in_process.stop()
        elapsed = time.perf_counter() - started
        ingested = await _ready_documents(ctx, bulk)
        await _settle(ctx)  # the same data, idle again: how much of the rise is the bigger tables, not the load
        for query in queries:
            await after.query(ctx, retriever, base, query)
        phases = {"idle": idle.summary(), "loaded": loaded.summary(), "after": after.summary()}
        if paused.totals:
            phases["paused"] = paused.summary()
        return {
            **{f"{phase}_{key}": value for phase, summary in phases.items() for key, value in summary.items()},
            "p95_rise": round(phases["loaded"]["p95_ms"] / phases["idle"]["p95_ms"] - 1, 3),
            "p95_rise_interleaved": (
                round(phases["loaded"]["p95_ms"] / phases["paused"]["p95_ms"] - 1, 3) if "paused" in phases else None
            ),
            "ingested_docs": ingested,
            "ingest_docs_per_s": round(ingested / elapsed, 1),
            "ingest_window_s": round(elapsed, 1),
            "worker_nice": args.worker_nice,
            "mode": args.mode,
        }
    finally:
        await ctx.close()
        server.stop()
        tmp.cleanup()


def show(results: dict[str, Any]) -> None:
    stages = list(results["idle_stage_p95_ms"])
    table = Table(title="Hybrid query latency, idle vs during ingestion")
    for column in ("", "p50 ms", "p95 ms", "queries", *(f"{stage} p95" for stage in stages)):
        table.add_column(column, justify="right" if column else "left")
    for phase, label in (
        ("idle", "idle"),
        ("loaded", "during ingestion"),
        ("paused", "load paused, between loaded windows"),
        ("after", "idle again, after (same data as at the end)"),
    ):
        if f"{phase}_p95_ms" not in results:
            continue
        table.add_row(
            label,
            f"{results[f'{phase}_p50_ms']:.1f}",
            f"{results[f'{phase}_p95_ms']:.1f}",
            str(results[f"{phase}_queries"]),
            *(f"{results[f'{phase}_stage_p95_ms'].get(stage, 0.0):.1f}" for stage in stages),
        )
    Console().print(table)
    verdict = "ok" if results["p95_rise"] <= TARGET_RISE else "over target"
    Console().print(
        f"p95 rise: {results['p95_rise'] * 100:+.0f}% (target ≤ +{TARGET_RISE * 100:.0f}%: {verdict}); "
        f"ingested {results['ingested_docs']} documents in {results['ingest_window_s']} s "
        f"({results['ingest_docs_per_s']} documents/s)"
    )
    if results.get("p95_rise_interleaved") is not None:
        Console().print(f"p95 rise over the paused windows in between: {results['p95_rise_interleaved'] * 100:+.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/scifact", help="BEIR SciFact folder")
    parser.add_argument("--base-docs", type=int, default=1000, help="documents in the queried knowledge base")
    parser.add_argument("--load-docs", type=int, default=2000, help="documents the concurrent ingestion adds")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop the measurement after this long")
    parser.add_argument(
        "--mode",
        choices=("in-process", "process", "busy-loop"),
        default="in-process",
        help="where ingestion runs; busy-loop: no ingestion, only a spinning process at the idle CPU class",
    )
    parser.add_argument(
        "--worker-nice", type=int, default=10, help="OPSDESK_WORKER_NICE for the ingestion (10 as shipped, 0 = off)"
    )
    parser.add_argument(
        "--interleave",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with a load process (process, busy-loop): pause it for every other window of 50 queries",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    publish("ingest_under_load", results, as_json=args.json)


if __name__ == "__main__":
    main()
