"""Semantic, keyword and hybrid retrieval over the chunks of a workspace's knowledge bases.

Every query is scoped by workspace: `workspace_id` is in the WHERE clause of every statement here, next to the
knowledge bases asked for, so a caller can never read another workspace's chunks whatever ids it passes.
Queries read the latest version of each document unless a version is named.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.knowledge.models import KnowledgeBase
from opsdesk.knowledge.query.keyword_search import KeywordStats, StatsScope, bm25_search, set_local
from opsdesk.providers.llm.base import EmbeddingProvider

Mode = Literal["keyword", "semantic", "hybrid"]
MAX_TOP_K = 200
_EF_SEARCH_MIN = 40
EXACT_SCAN_MAX = 3000  # scopes with at most this many chunks are searched exactly, without the HNSW index
_MAX_FETCH = 4000  # deepest nearest-neighbour scan when filters drop most of what it finds


@dataclass(frozen=True)
class SearchFilters:
    """Narrow a search: documents with every tag, of these types, these documents, or one named version."""

    tags: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    document_ids: tuple[uuid.UUID, ...] = ()
    version: str | None = None


@dataclass(frozen=True)
class SearchOptions:
    mode: Mode = "hybrid"
    top_k: int = 10
    filters: SearchFilters = field(default_factory=SearchFilters)
    candidates: int = 100  # how deep each method looks before fusion
    semantic_weight: float = 1.0
    keyword_weight: float = 1.0
    rrf_k: int = 60


@dataclass
class Hit:
    """One ranked chunk with everything a citation needs."""

    chunk_id: uuid.UUID
    kb_id: uuid.UUID
    document_id: uuid.UUID
    document_title: str
    doc_type: str
    source_key: str
    version_id: uuid.UUID
    version: str
    section_path: str
    page: int | None
    ordinal: int
    text: str
    score: float
    similarity: float | None = None  # cosine similarity to the query, when an embedding was computed
    keyword_rank: int | None = None
    semantic_rank: int | None = None
    rerank_score: float | None = None


@dataclass
class SearchResult:
    hits: list[Hit]
    mode: Mode
    timings_ms: dict[str, float] = field(default_factory=dict)


def options_from_settings(settings: Any, **overrides: Any) -> SearchOptions:
    """Search options with the fusion weights of the settings (`overrides` replace any field)."""
    base = SearchOptions(
        semantic_weight=settings.retrieval_semantic_weight,
        keyword_weight=settings.retrieval_keyword_weight,
        rrf_k=settings.retrieval_rrf_k,
    )
    return replace(base, **overrides)


async def workspace_kbs(session: AsyncSession, workspace_id: uuid.UUID) -> list[KnowledgeBase]:
    """Every active knowledge base of a workspace."""
    rows = await session.scalars(
        select(KnowledgeBase)
        .where(KnowledgeBase.workspace_id == workspace_id, KnowledgeBase.status == "active")
        .order_by(KnowledgeBase.name)
    )
    return list(rows)


class Retriever:
    """Runs searches; holds the process-local keyword statistics. One per process (see `retriever_of`)."""

    def __init__(self, embedder: EmbeddingProvider) -> None:
        self.embedder = query_embedder(embedder)
        self.keyword_stats = KeywordStats()

    async def embed_query(self, query: str) -> list[float]:
        (vector,) = await self.embedder.embed([query])
        return vector

    async def _timed_embed(self, query: str, timings: dict[str, float]) -> list[float]:
        started = time.perf_counter()
        vector = await self.embed_query(query)
        timings["embed"] = _ms(started)
        return vector

    async def search(
        self,
        session: AsyncSession,
        *,
        workspace_id: uuid.UUID,
        kbs: Sequence[KnowledgeBase],
        query: str,
        options: SearchOptions,
        query_vector: list[float] | None = None,
        with_similarity: bool = False,
    ) -> SearchResult:
        """Ranked chunks of `kbs` (which must belong to `workspace_id`) for `query`.

        Hits carry their cosine similarity to the query whenever the query is embedded: always for semantic and
        hybrid search, and for keyword search with `with_similarity` (answers need it).
        """
        query = query.strip()
        if not query:
            raise InvalidInput("The query is empty.", code="empty_query")
        if not 1 <= options.top_k <= MAX_TOP_K:
            raise InvalidInput(f"top_k must be between 1 and {MAX_TOP_K}.", code="invalid_top_k")
        if any(kb.workspace_id != workspace_id for kb in kbs):
            raise NotFound("No such knowledge base in this workspace.", code="kb_not_found")
        if not kbs:
            return SearchResult([], options.mode)
        timings: dict[str, float] = {}
        depth = max(options.candidates, options.top_k)
        join, where, params = _scope(workspace_id, [kb.id for kb in kbs], options.filters)
        scope = _stats_scope(workspace_id, kbs)
        # The query is embedded (in a thread) while the keyword search runs in the database: two cores, both busy.
        embedding: asyncio.Task[list[float]] | None = None
        if query_vector is None and (options.mode != "keyword" or with_similarity):
            embedding = asyncio.create_task(self._timed_embed(query, timings))
        keyword: list[tuple[uuid.UUID, float]] = []
        semantic: list[tuple[uuid.UUID, float]] = []
        try:
            if options.mode in ("keyword", "hybrid"):
                started = time.perf_counter()
                keyword = await bm25_search(
                    session,
                    stats_cache=self.keyword_stats,
                    scope=scope,
                    scope_join=join,
                    scope_where=where,
                    params=params,
                    query=query,
                    limit=depth,
                )
                timings["keyword"] = _ms(started)
            if embedding is not None:
                query_vector = await embedding
        finally:
            if embedding is not None and not embedding.done():
                embedding.cancel()
        if options.mode in ("semantic", "hybrid") and query_vector is not None:
            started = time.perf_counter()
            exact = (await self.keyword_stats.corpus(session, scope)).chunks <= EXACT_SCAN_MAX
            semantic = await _semantic(session, join, where, params, query_vector, depth, exact=exact)
            timings["semantic"] = _ms(started)
        ranked = _rank(options, keyword, semantic)[: options.top_k]
        started = time.perf_counter()
        hits = await _details(session, workspace_id, ranked, query_vector)
        timings["details"] = _ms(started)
        return SearchResult(hits, options.mode, timings)


def _rank(
    options: SearchOptions, keyword: list[tuple[uuid.UUID, float]], semantic: list[tuple[uuid.UUID, float]]
) -> list[tuple[uuid.UUID, float, int | None, int | None]]:
    """(chunk id, score, keyword rank, semantic rank), best first."""
    keyword_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(keyword, start=1)}
    semantic_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(semantic, start=1)}
    if options.mode == "keyword":
        return [(cid, score, keyword_rank[cid], None) for cid, score in keyword]
    if options.mode == "semantic":
        return [(cid, score, None, semantic_rank[cid]) for cid, score in semantic]
    fused = reciprocal_rank_fusion(
        [keyword, semantic], [options.keyword_weight, options.semantic_weight], k=options.rrf_k
    )
    return [(cid, score, keyword_rank.get(cid), semantic_rank.get(cid)) for cid, score in fused]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[tuple[uuid.UUID, float]]], weights: Sequence[float], *, k: int = 60
) -> list[tuple[uuid.UUID, float]]:
    """Weighted RRF: each list adds weight / (k + rank) to the items it holds; ties keep first-seen order."""
    scores: dict[uuid.UUID, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if weight <= 0:
            continue
        for rank, (item, _) in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def _scope(
    workspace_id: uuid.UUID, kb_ids: list[uuid.UUID], filters: SearchFilters
) -> tuple[str, str, dict[str, object]]:
    """The joins and WHERE clause every search shares (aliases: c chunks, d documents, v document_versions)."""
    join = "JOIN documents d ON d.id = c.document_id"
    clauses = ["c.workspace_id = :ws", "d.workspace_id = :ws", "c.kb_id = ANY(:kbs)"]
    params: dict[str, object] = {"ws": workspace_id, "kbs": kb_ids}
    if filters.version:
        join += " JOIN document_versions v ON v.id = c.version_id"
        clauses.append("v.version = :version")
        params["version"] = filters.version
    else:
        clauses.append("c.version_id = d.latest_version_id")
    if filters.tags:
        clauses.append("d.tags @> CAST(:tags AS varchar[])")
        params["tags"] = list(filters.tags)
    if filters.doc_types:
        clauses.append("d.doc_type = ANY(:doc_types)")
        params["doc_types"] = list(filters.doc_types)
    if filters.document_ids:
        clauses.append("c.document_id = ANY(:document_ids)")
        params["document_ids"] = list(filters.document_ids)
    return join, " AND ".join(clauses), params


def _stats_scope(workspace_id: uuid.UUID, kbs: Sequence[KnowledgeBase]) -> StatsScope:
    version = ",".join(f"{kb.id}@{kb.content_version}" for kb in sorted(kbs, key=lambda kb: str(kb.id)))
    return StatsScope(workspace_id, tuple(kb.id for kb in kbs), version)


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{value:.7g}" for value in vector) + "]"


async def _semantic(
    session: AsyncSession,
    join: str,
    where: str,
    params: dict[str, object],
    vector: list[float],
    limit: int,
    *,
    exact: bool,
) -> list[tuple[uuid.UUID, float]]:
    """Nearest chunks by cosine distance through the HNSW index.

    The nearest-neighbour scan reads `chunks` alone (workspace and knowledge bases only), so the planner can use the
    HNSW index; the document-level scope (latest version, tags, types) is applied to what it returns. When that
    scope drops too many, the scan is repeated deeper. Small scopes (`exact`) are scanned exactly instead: for a
    few thousand chunks that is as fast, and exact.
    """
    fetch = limit * 2 + 20
    narrow = " AND c.document_id = ANY(:document_ids)" if "document_ids" in params else ""
    while True:
        ef = max(_EF_SEARCH_MIN, min(1000, fetch))
        # Left to itself the planner often prefers sorting every chunk of the workspace over the HNSW index.
        await set_local(
            session,
            hnsw__ef_search=str(ef),
            hnsw__iterative_scan="relaxed_order",
            hnsw__max_scan_tuples="100000",
            enable_sort="on" if exact else "off",
        )
        rows = await session.execute(
            text(
                f"""
WITH nn AS MATERIALIZED (
    SELECT c.id, c.workspace_id, c.kb_id, c.document_id, c.version_id,
           c.embedding <=> CAST(:qvec AS vector) AS distance
    FROM chunks c
    WHERE c.workspace_id = :ws AND c.kb_id = ANY(:kbs){narrow}
    ORDER BY c.embedding <=> CAST(:qvec AS vector)
    LIMIT :fetch
), kept AS (
    SELECT c.id, c.distance FROM nn c {join} WHERE {where} ORDER BY c.distance, c.id LIMIT :limit
)
SELECT k.id, 1 - k.distance, n.total
FROM (SELECT count(*) AS total FROM nn) AS n LEFT JOIN kept AS k ON true
ORDER BY k.distance, k.id
"""
            ),
            {**params, "qvec": vector_literal(vector), "fetch": fetch, "limit": limit},
        )
        await set_local(session, enable_sort="on")
        found = list(rows)
        scanned = int(found[0][2]) if found else 0
        kept = [(row[0], float(row[1])) for row in found if row[0] is not None]
        # Enough kept, the scope has no more chunks than were scanned, or the scan is as deep as it goes.
        if len(kept) >= limit or scanned < fetch or fetch >= _MAX_FETCH:
            return kept
        fetch = min(_MAX_FETCH, fetch * 4)


async def _details(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    ranked: list[tuple[uuid.UUID, float, int | None, int | None]],
    query_vector: list[float] | None,
) -> list[Hit]:
    if not ranked:
        return []
    similarity = "1 - (c.embedding <=> CAST(:qvec AS vector))" if query_vector is not None else "NULL"
    params: dict[str, object] = {"ids": [item[0] for item in ranked], "ws": workspace_id}
    if query_vector is not None:
        params["qvec"] = vector_literal(query_vector)
    rows = await session.execute(
        text(
            f"""
SELECT c.id, c.kb_id, c.document_id, d.title, d.doc_type, d.source_key, c.version_id, v.version,
       c.section_path, c.page, c.ordinal, c.text, {similarity}
FROM chunks c JOIN documents d ON d.id = c.document_id JOIN document_versions v ON v.id = c.version_id
WHERE c.id = ANY(:ids) AND c.workspace_id = :ws AND d.workspace_id = :ws
"""
        ),
        params,
    )
    by_id = {row[0]: row for row in rows}
    hits: list[Hit] = []
    for chunk_id, score, keyword_rank, semantic_rank in ranked:
        row = by_id.get(chunk_id)
        if row is None:  # deleted between ranking and reading
            continue
        hits.append(
            Hit(
                chunk_id=row[0],
                kb_id=row[1],
                document_id=row[2],
                document_title=row[3],
                doc_type=row[4],
                source_key=row[5],
                version_id=row[6],
                version=row[7],
                section_path=row[8],
                page=row[9],
                ordinal=row[10],
                text=row[11],
                score=score,
                similarity=None if row[12] is None else float(row[12]),
                keyword_rank=keyword_rank,
                semantic_rank=semantic_rank,
            )
        )
    return hits


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


_single_thread_minilm: EmbeddingProvider | None = None


def query_embedder(embedder: EmbeddingProvider) -> EmbeddingProvider:
    """The embedder for queries: for the local MiniLM, a one-thread instance shared by the process.

    One short text embeds faster on one thread than on two here (about 10 ms against 17 ms at the median; on two
    cores the second thread mostly waits), and queries then never queue behind an ingestion batch in the same
    process. Other providers are used as they are.
    """
    global _single_thread_minilm
    from opsdesk.providers.embedding.local_minilm import LocalMiniLM

    if type(embedder) is not LocalMiniLM:
        return embedder
    if _single_thread_minilm is None:
        _single_thread_minilm = LocalMiniLM(threads=1)
    return _single_thread_minilm


def retriever_of(extras: dict[str, Any], embedder: EmbeddingProvider) -> Retriever:
    """The process's retriever, kept in `AppContext.extras`."""
    retriever = extras.get("retriever")
    if retriever is None:
        retriever = extras["retriever"] = Retriever(embedder)
    return retriever  # type: ignore[no-any-return]
