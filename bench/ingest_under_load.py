"""Query latency while a large ingestion runs, against the same latency idle.

    .venv/bin/python bench/ingest_under_load.py --data ../shared/data/scifact [--json]

A throwaway embedded PostgreSQL (temp dir) gets a base knowledge base of `--base-docs` SciFact documents; the test
queries run against it idle, then again while an ingestion worker *process* (`python -m opsdesk.knowledge.worker`,
as deployed) ingests `--load-docs` more documents into a second knowledge base. Target: p95 rises by at most 30%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from bench._ingest import ingest_corpus, queue_corpus
from bench.retrieval import load, percentile
from opsdesk.auth import service as auth
from opsdesk.core.context import AppContext
from opsdesk.core.settings import Settings
from opsdesk.db.embedded import EmbeddedPostgres
from opsdesk.knowledge.models import Document, KnowledgeBase
from opsdesk.knowledge.retrieval import Retriever, SearchOptions

TARGET_RISE = 0.30
console = Console(stderr=True)


async def _query_once(ctx: AppContext, retriever: Retriever, kb: KnowledgeBase, query: str) -> float:
    started = time.perf_counter()
    async with ctx.db.session() as session:
        await retriever.search(
            session, workspace_id=kb.workspace_id, kbs=[kb], query=query, options=SearchOptions(mode="hybrid")
        )
    return (time.perf_counter() - started) * 1000


async def _ready_documents(ctx: AppContext, kb: KnowledgeBase) -> int:
    async with ctx.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Document).where(Document.kb_id == kb.id, Document.status == "ready")
        )
    return int(count or 0)


async def _spawn_worker(settings: Settings, nice: int) -> asyncio.subprocess.Process:
    assert settings.database_url is not None
    env = {
        **os.environ,
        "OPSDESK_DATABASE_URL": settings.database_url.get_secret_value(),
        "OPSDESK_DATA_DIR": str(settings.data_dir),
        "OPSDESK_LOCAL_LLM_ENABLED": "false",
        "OPSDESK_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "opsdesk.knowledge.worker", "--until-idle", "--poll", "0.2"]
    lower = (lambda: os.nice(nice)) if nice else None  # runs in the child, before exec
    return await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.DEVNULL, preexec_fn=lower)


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
            await _query_once(ctx, retriever, base, query)
        idle = [await _query_once(ctx, retriever, base, query) for query in queries]

        console.print(f"queueing {len(load_docs):,} documents and starting an ingestion worker process …")
        await queue_corpus(ctx, bulk, load_docs, per_job=200)
        worker = await _spawn_worker(settings, args.worker_nice)
        started = time.perf_counter()
        loaded: list[float] = []
        try:
            while worker.returncode is None and time.perf_counter() - started < args.max_seconds:
                for query in queries:
                    loaded.append(await _query_once(ctx, retriever, base, query))
                    if len(loaded) % 50 == 0 and worker.returncode is not None:
                        break
                await asyncio.sleep(0)
                try:
                    await asyncio.wait_for(worker.wait(), timeout=0.01)
                except TimeoutError:
                    pass
        finally:
            if worker.returncode is None:
                worker.terminate()
                await worker.wait()
        elapsed = time.perf_counter() - started
        ingested = await _ready_documents(ctx, bulk)
        idle_p95, loaded_p95 = percentile(idle, 0.95), percentile(loaded, 0.95)
        return {
            "idle_p50_ms": round(percentile(idle, 0.50), 2),
            "idle_p95_ms": round(idle_p95, 2),
            "loaded_p50_ms": round(percentile(loaded, 0.50), 2),
            "loaded_p95_ms": round(loaded_p95, 2),
            "p95_rise": round(loaded_p95 / idle_p95 - 1, 3),
            "queries_idle": len(idle),
            "queries_loaded": len(loaded),
            "ingested_docs": ingested,
            "ingest_docs_per_s": round(ingested / elapsed, 1),
            "ingest_window_s": round(elapsed, 1),
            "worker_nice": args.worker_nice,
        }
    finally:
        await ctx.close()
        server.stop()
        tmp.cleanup()


def show(results: dict[str, Any]) -> None:
    table = Table(title="Hybrid query latency, idle vs during ingestion")
    for column in ("", "p50 ms", "p95 ms", "queries"):
        table.add_column(column, justify="right" if column else "left")
    idle = (f"{results['idle_p50_ms']:.1f}", f"{results['idle_p95_ms']:.1f}", str(results["queries_idle"]))
    table.add_row("idle", *idle)
    table.add_row(
        "during ingestion",
        f"{results['loaded_p50_ms']:.1f}",
        f"{results['loaded_p95_ms']:.1f}",
        str(results["queries_loaded"]),
    )
    Console().print(table)
    verdict = "ok" if results["p95_rise"] <= TARGET_RISE else "over target"
    Console().print(
        f"p95 rise: {results['p95_rise'] * 100:+.0f}% (target ≤ +{TARGET_RISE * 100:.0f}%: {verdict}); "
        f"ingested {results['ingested_docs']} documents in {results['ingest_window_s']} s "
        f"({results['ingest_docs_per_s']} documents/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/scifact", help="BEIR SciFact folder")
    parser.add_argument("--base-docs", type=int, default=1000, help="documents in the queried knowledge base")
    parser.add_argument("--load-docs", type=int, default=2000, help="documents the concurrent ingestion adds")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop the measurement after this long")
    parser.add_argument(
        "--worker-nice", type=int, default=0, help="run the worker process at this niceness (0: as deployed today)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest_under_load.json").write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
