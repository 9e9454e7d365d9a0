"""Querying a knowledge base: cache, retrieval, optional reranking and an optional cited answer.

Used by the HTTP route, the MCP tools and the CLI alike. The knowledge base is always resolved inside the caller's
workspace first, so every later step (and every cache key) is scoped by it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from opsdesk.app.context import AppContext
from opsdesk.core.cache import cache_of
from opsdesk.core.errors import InvalidInput, OpsdeskError
from opsdesk.core.logging import get_logger
from opsdesk.knowledge.models import KnowledgeBase
from opsdesk.knowledge.query.answers import Answer, Answerer, generation_provider
from opsdesk.knowledge.query.cache import QueryCache, cache_key
from opsdesk.knowledge.query.rerank import LLMReranker, Reranker, rerank, reranker_of
from opsdesk.knowledge.query.retrieval import Hit, SearchFilters, SearchOptions, retriever_of
from opsdesk.knowledge.query.schemas import AnswerOut, Citation, HitOut, QueryIn, QueryOut
from opsdesk.knowledge.service import get_kb

_log = get_logger(__name__)


def citation_of(number: int, hit: Hit) -> Citation:
    return Citation(
        number=number,
        chunk_id=hit.chunk_id,
        kb_id=hit.kb_id,
        document_id=hit.document_id,
        document_title=hit.document_title,
        source_key=hit.source_key,
        version=hit.version,
        version_id=hit.version_id,
        section=hit.section_path,
        page=hit.page,
    )


def hit_out(rank: int, hit: Hit) -> HitOut:
    return HitOut(
        rank=rank,
        score=round(hit.score, 6),
        similarity=None if hit.similarity is None else round(hit.similarity, 4),
        keyword_rank=hit.keyword_rank,
        semantic_rank=hit.semantic_rank,
        rerank_score=hit.rerank_score,
        text=hit.text,
        citation=citation_of(rank, hit),
    )


def answer_out(answer: Answer, hits: list[HitOut]) -> AnswerOut:
    return AnswerOut(
        text=answer.text,
        known=answer.known,
        method=answer.method,  # type: ignore[arg-type]
        confidence=answer.confidence,
        citations=[hits[n - 1].citation for n in answer.cited if 0 < n <= len(hits)],
        model=answer.model,
    )


def _sse(event: str, data: Any) -> dict[str, str]:
    return {"event": event, "data": orjson.dumps(data).decode()}


@dataclass
class PreparedQuery:
    """A query whose knowledge base is resolved (in the caller's workspace) and whose cache was consulted."""

    ctx: AppContext
    kb: KnowledgeBase
    request: QueryIn
    key: str
    cached: QueryOut | None

    @property
    def _cache(self) -> QueryCache:
        return QueryCache(cache_of(self.ctx.extras, self.ctx.settings), self.ctx.settings.query_cache_ttl_s)

    async def run(self) -> QueryOut:
        """The whole response at once."""
        if self.cached is not None:
            return self.cached
        started = time.perf_counter()
        hits, reranked_by, timings = await self._retrieve()
        result = self._result(hits, reranked_by, timings)
        if self.request.answer:
            answer_started = time.perf_counter()
            answer = await self._answerer().answer(self.request.query, hits)
            result.answer = answer_out(answer, result.hits)
            result.timings_ms["answer"] = _ms(answer_started)
        result.timings_ms["total"] = _ms(started)
        if self.request.cache:
            await self._cache.put(self.key, result)
        return result

    async def events(self) -> AsyncIterator[dict[str, str]]:
        """Server-sent events: `hits`, then (with `answer`) `delta`… and `answer`, then `done`; `error` on failure."""
        try:
            if self.cached is not None:
                head = self.cached.model_dump(mode="json", exclude={"answer"})
                yield _sse("hits", head)
                if self.cached.answer is not None:
                    yield _sse("delta", {"text": self.cached.answer.text})
                    yield _sse("answer", self.cached.answer.model_dump(mode="json"))
                yield _sse("done", {"cached": True})
                return
            started = time.perf_counter()
            hits, reranked_by, timings = await self._retrieve()
            result = self._result(hits, reranked_by, timings)
            yield _sse("hits", result.model_dump(mode="json", exclude={"answer"}))
            if self.request.answer:
                async for delta, final in self._answerer().stream(self.request.query, hits):
                    if delta:
                        yield _sse("delta", {"text": delta})
                    if final is not None:
                        result.answer = answer_out(final, result.hits)
                        yield _sse("answer", result.answer.model_dump(mode="json"))
            result.timings_ms["total"] = _ms(started)
            if self.request.cache:
                await self._cache.put(self.key, result)
            yield _sse("done", {"cached": False, "timings_ms": result.timings_ms})
        except OpsdeskError as exc:
            yield _sse("error", {"message": exc.message, "code": exc.code})
        except Exception as exc:  # the stream has started: report in-band instead of a broken connection
            _log.exception("query_stream_failed")
            yield _sse("error", {"message": f"The query failed ({type(exc).__name__}).", "code": "internal_error"})

    async def _retrieve(self) -> tuple[list[Hit], str | None, dict[str, float]]:
        ctx, request = self.ctx, self.request
        retriever = retriever_of(ctx.extras, ctx.providers.embedder())
        filters = request.filters
        options = SearchOptions(
            mode=request.mode,
            top_k=request.top_k,
            filters=SearchFilters(
                tags=tuple(filters.tags),
                doc_types=tuple(filters.doc_types),
                document_ids=tuple(filters.document_ids),
                version=filters.version,
            ),
            semantic_weight=ctx.settings.retrieval_semantic_weight,
            keyword_weight=ctx.settings.retrieval_keyword_weight,
            rrf_k=ctx.settings.retrieval_rrf_k,
        )
        async with ctx.db.session() as session:
            result = await retriever.search(
                session,
                workspace_id=self.kb.workspace_id,
                kbs=[self.kb],
                query=request.query,
                options=options,
                with_similarity=request.answer,
            )
        hits, timings = result.hits, result.timings_ms
        reranker = self._reranker()
        if reranker is not None:
            started = time.perf_counter()
            hits = await rerank(reranker, request.query, hits)
            timings["rerank"] = _ms(started)
        return hits, reranker.name if reranker is not None else None, timings

    def _reranker(self) -> Reranker | None:
        if not self.request.rerank:
            return None
        settings = self.ctx.settings
        configured = reranker_of(self.ctx.extras, settings, self.ctx.providers)
        if configured is not None:
            return configured
        if settings.fallback_chain():
            provider, override = self.ctx.providers.resolve_model("opsdesk")
            return LLMReranker(provider, override)
        raise InvalidInput(
            "rerank needs a reranker: set OPSDESK_RERANKER (llm or cross-encoder) or configure a chat provider.",
            code="no_reranker",
        )

    def _answerer(self) -> Answerer:
        settings = self.ctx.settings
        provider, override = generation_provider(settings, self.ctx.providers)
        return Answerer(
            self.ctx.providers.embedder(),
            provider,
            model=override,
            min_score=settings.answer_min_score,
            min_sentence_score=settings.answer_min_sentence_score,
        )

    def _result(self, hits: list[Hit], reranked_by: str | None, timings: dict[str, float]) -> QueryOut:
        return QueryOut(
            query=self.request.query,
            kb=self.kb.name,
            mode=self.request.mode,
            hits=[hit_out(rank, hit) for rank, hit in enumerate(hits, start=1)],
            reranked_by=reranked_by,
            timings_ms=dict(timings),
        )


async def prepare_query(ctx: AppContext, workspace_id: uuid.UUID, kb_ref: str, request: QueryIn) -> PreparedQuery:
    """Resolves the knowledge base in the workspace and looks the query up in the cache."""
    async with ctx.db.session() as session:
        kb = await get_kb(session, workspace_id, kb_ref)
    key = cache_key(workspace_id, kb.id, kb.content_version, request)
    prepared = PreparedQuery(ctx, kb, request, key, None)
    if request.cache:
        prepared.cached = await prepared._cache.get(key)
    return prepared


async def run_query(ctx: AppContext, workspace_id: uuid.UUID, kb_ref: str, request: QueryIn) -> QueryOut:
    """Resolve, look up, search, answer: the response of one query."""
    return await (await prepare_query(ctx, workspace_id, kb_ref, request)).run()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
