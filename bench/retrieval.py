"""Retrieval quality and speed on BEIR SciFact: keyword, semantic, hybrid and hybrid + rerank.

    .venv/bin/python bench/retrieval.py --data ../shared/data/scifact [--json] [--rerank llm|cross-encoder|none]

Ingests the corpus into a throwaway embedded PostgreSQL (a temp dir; never your data), runs the test queries and
prints nDCG@10, recall@100, MRR@10 and query latency per method beside the published baselines. `--split train`
evaluates on the train queries instead (use that, never the test split, to tune anything).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from bench._ingest import CorpusDoc, ingest_corpus
from bench._results import publish
from bench._stats import percentile
from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.core.settings import Settings
from opsdesk.db.embedded import EmbeddedPostgres
from opsdesk.knowledge.models import KnowledgeBase
from opsdesk.knowledge.query.rerank import Reranker, build_reranker, rerank
from opsdesk.knowledge.query.retrieval import Hit, Retriever, SearchOptions

BASELINES = {"keyword": ("BM25 (BEIR)", 0.665), "hybrid_rerank": ("BM25 + cross-encoder (BEIR)", 0.688)}
METHODS = ("keyword", "semantic", "hybrid", "hybrid_rerank")
console = Console(stderr=True)


@dataclass
class Dataset:
    docs: list[CorpusDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load(data: Path, split: str, limit_docs: int | None) -> Dataset:
    docs = []
    with (data / "corpus.jsonl").open() as handle:
        for line in handle:
            item = json.loads(line)
            docs.append(CorpusDoc(key=str(item["_id"]), title=item.get("title") or "", text=item.get("text") or ""))
    qrels: dict[str, dict[str, int]] = {}
    with (data / "qrels" / f"{split}.tsv").open() as handle:
        next(handle)
        for line in handle:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, {})[did] = int(score)
    queries = {}
    with (data / "queries.jsonl").open() as handle:
        for line in handle:
            item = json.loads(line)
            if str(item["_id"]) in qrels:
                queries[str(item["_id"])] = item["text"]
    if limit_docs:
        keep = {did for rel in qrels.values() for did in rel}
        docs = [d for d in docs if d.key in keep] + [d for d in docs if d.key not in keep]
        docs = docs[:limit_docs]
    return Dataset(docs, queries, qrels)


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def mrr_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    return next((1.0 / (i + 1) for i, doc in enumerate(ranked[:k]) if doc in relevant), 0.0)


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def documents_of(hits: Sequence[Hit]) -> list[str]:
    """Chunk hits to corpus ids, keeping each document's best rank."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(hit.source_key.removesuffix(".md"), None)
    return list(seen)


async def _timed_search(
    ctx: AppContext,
    retriever: Retriever,
    kb: KnowledgeBase,
    query: str,
    options: SearchOptions,
    reranker: Reranker | None,
) -> tuple[list[Hit], float]:
    started = time.perf_counter()
    async with ctx.db.session() as session:
        result = await retriever.search(session, workspace_id=kb.workspace_id, kbs=[kb], query=query, options=options)
    hits = result.hits
    if reranker is not None:
        hits = await rerank(reranker, query, hits)
    return hits, (time.perf_counter() - started) * 1000


async def evaluate(
    ctx: AppContext, kb: KnowledgeBase, data: Dataset, method: str, reranker: Reranker | None, top_k: int
) -> dict[str, float]:
    """Quality from one `top_k`-deep search per query; latency from a second pass shaped like an API query
    (top 10 of the default candidate depth), so the two do not distort each other."""
    retriever = Retriever(ctx.providers.embedder())
    mode = "hybrid" if method == "hybrid_rerank" else method
    weights = {
        "semantic_weight": ctx.settings.retrieval_semantic_weight,
        "keyword_weight": ctx.settings.retrieval_keyword_weight,
        "rrf_k": ctx.settings.retrieval_rrf_k,
    }
    deep = SearchOptions(mode=mode, top_k=top_k, candidates=top_k, **weights)  # type: ignore[arg-type]
    ndcg, recall, mrr, deep_latencies = [], [], [], []
    for qid, query in data.queries.items():
        hits, elapsed = await _timed_search(ctx, retriever, kb, query, deep, reranker)
        deep_latencies.append(elapsed)
        ranked = documents_of(hits)
        relevant = data.qrels[qid]
        ndcg.append(ndcg_at(ranked, relevant, 10))
        recall.append(recall_at(ranked, relevant, 100))
        mrr.append(mrr_at(ranked, relevant, 10))
    latencies = deep_latencies
    if reranker is None:
        typical = SearchOptions(mode=mode, top_k=10, **weights)  # type: ignore[arg-type]
        latencies = [(await _timed_search(ctx, retriever, kb, q, typical, None))[1] for q in data.queries.values()]
    return {
        "ndcg@10": round(statistics.fmean(ndcg), 4),
        "recall@100": round(statistics.fmean(recall), 4),
        "mrr@10": round(statistics.fmean(mrr), 4),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p95_ms_top100": round(percentile(deep_latencies, 0.95), 2),
    }


def _settings(data_dir: Path, url: str, llm: bool) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=data_dir,
        database_url=SecretStr(url),
        local_llm_enabled=llm,
        log_level="WARNING",
    )


async def _prepare(ctx: AppContext, data: Dataset, marker: Path | None) -> tuple[KnowledgeBase, dict[str, Any]]:
    """The corpus' knowledge base: ingested now, or (with --db-dir) found from an earlier run of this script."""
    if marker is not None and await asyncio.to_thread(marker.exists):
        recorded: dict[str, Any] = json.loads(await asyncio.to_thread(marker.read_text))
        if recorded.get("docs") == len(data.docs):
            async with ctx.db.session() as session:
                kb = await session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == "scifact"))
            assert kb is not None
            console.print(f"reusing the corpus ingested on {recorded['at']} ({recorded['docs']:,} documents)")
            return kb, recorded
    async with ctx.db.session() as session:
        workspace = await auth.get_or_create_workspace(session, "bench")
        kb = KnowledgeBase(workspace_id=workspace.id, name="scifact", description="", tags=[], content_version=0)
        session.add(kb)
    console.print(f"ingesting {len(data.docs):,} documents through the ingestion pipeline …")
    started = time.perf_counter()
    path = await ingest_corpus(ctx, kb, data.docs)
    ingest_s = time.perf_counter() - started
    recorded = {
        "docs": len(data.docs),
        "ingest_s": round(ingest_s, 1),
        "ingest_docs_per_s": round(len(data.docs) / ingest_s, 1),
        "ingest_path": path,
        "at": time.strftime("%Y-%m-%d %H:%M"),
    }
    if marker is not None:
        await asyncio.to_thread(marker.write_text, json.dumps(recorded))
    async with ctx.db.session() as session:
        fresh = await session.get(KnowledgeBase, kb.id)
    assert fresh is not None
    async with ctx.db.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")
    return fresh, recorded


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data = load(Path(args.data), args.split, args.limit_docs)
    tmp = None if args.db_dir else tempfile.TemporaryDirectory(prefix="opsdesk-bench-")
    root = Path(args.db_dir) if args.db_dir else Path(tmp.name)  # type: ignore[union-attr]
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    server = EmbeddedPostgres(root, cleanup_mode="stop" if args.db_dir else "delete")
    server.start()
    settings = _settings(root, server.url("asyncpg"), args.rerank == "llm")
    ctx = await AppContext.open(settings)
    try:
        kb, recorded = await _prepare(ctx, data, root / "ingested.json" if args.db_dir else None)
        reranker = build_reranker(settings, ctx.providers, args.rerank) if args.rerank != "none" else None
        results: dict[str, Any] = {}
        for method in args.methods.split(","):
            if method == "hybrid_rerank" and reranker is None:
                results[method] = None
                continue
            queries = data.queries
            if method == "hybrid_rerank" and args.rerank_queries:
                queries = dict(list(queries.items())[: args.rerank_queries])
            console.print(f"{method}: {len(queries)} queries …")
            subset = Dataset(data.docs, queries, data.qrels)
            results[method] = await evaluate(
                ctx, kb, subset, method, reranker if method == "hybrid_rerank" else None, args.top_k
            )
            results[method]["queries"] = len(queries)
        results.update(
            {key: recorded[key] for key in ("ingest_docs_per_s", "ingest_s", "ingest_path")},
            docs=len(data.docs),
            queries=len(data.queries),
            split=args.split,
            reranker=args.rerank,
        )
        return results
    finally:
        await ctx.close()
        server.stop()
        if tmp is not None:
            tmp.cleanup()


def show(results: dict[str, Any]) -> None:
    table = Table(
        title=f"SciFact ({results['split']}: {results['queries']} queries, {results['docs']:,} docs)",
        caption="p50/p95: API-shaped queries (top 10); p95 @100: the 100-deep evaluation queries",
    )
    for column in ("method", "nDCG@10", "recall@100", "MRR@10", "p50 ms", "p95 ms", "p95 ms @100", "baseline nDCG@10"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method in METHODS:
        if method not in results:
            continue
        row = results.get(method)
        name, value = BASELINES.get(method, ("", None))
        baseline = f"{value:.3f} {name}" if value else ""
        if row is None:
            table.add_row(method, "-", "-", "-", "-", "-", "-", baseline + f" (--rerank {results['reranker']})")
            continue
        table.add_row(
            method,
            f"{row['ndcg@10']:.3f}",
            f"{row['recall@100']:.3f}",
            f"{row['mrr@10']:.3f}",
            f"{row['p50_ms']:.1f}",
            f"{row['p95_ms']:.1f}",
            f"{row['p95_ms_top100']:.1f}",
            baseline,
        )
    out = Console(width=max(Console().width, 150))
    out.print(table)
    out.print(
        f"ingestion ({results['ingest_path']} path): {results['ingest_s']} s, "
        f"{results['ingest_docs_per_s']} documents/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/scifact", help="BEIR SciFact folder")
    parser.add_argument("--split", default="test", choices=["test", "train"])
    parser.add_argument("--rerank", default="llm", choices=["none", "llm", "cross-encoder"])
    parser.add_argument("--top-k", type=int, default=100, help="chunks retrieved per query (recall@100 needs 100)")
    parser.add_argument("--limit-docs", type=int, default=None, help="ingest only this many documents (smoke runs)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument("--rerank-queries", type=int, default=0, help="rerank only the first N queries (0: all)")
    parser.add_argument("--db-dir", default=None, help="keep the database here and reuse its corpus on later runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    publish("retrieval", results, as_json=args.json)


if __name__ == "__main__":
    main()
