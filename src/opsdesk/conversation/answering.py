"""Policy and product questions answered from the solution's knowledge base, with citations.

Retrieval results are cached (L4) by knowledge base, content version, question and search options; the answer is
written by the knowledge service's `Answerer` (generative with a chat provider, extractive otherwise, "don't know"
below its confidence floor).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.conversation.cache import PROMPT_VERSION, conversation_cache, digest
from opsdesk.conversation.handlers import SolutionConfig
from opsdesk.core.errors import NotFound
from opsdesk.knowledge.models import KnowledgeBase
from opsdesk.knowledge.query.answers import SYSTEM_PROMPT, Answerer, generation_provider
from opsdesk.knowledge.query.grounding import normalise_question
from opsdesk.knowledge.query.retrieval import Hit, options_from_settings, retriever_of
from opsdesk.knowledge.query.service import citation_of
from opsdesk.knowledge.service import get_kb

TOP_K = 8
_UUID_FIELDS = ("chunk_id", "kb_id", "document_id", "version_id")


@dataclass(frozen=True)
class KnowledgeTarget:
    """The knowledge bases that answer the solution's questions in a workspace, and their content version."""

    kbs: tuple[KnowledgeBase, ...] = ()

    @property
    def kb(self) -> KnowledgeBase | None:
        """The first of them; None when the workspace has none (yet)."""
        return self.kbs[0] if self.kbs else None

    @property
    def version(self) -> str:
        return ",".join(f"{kb.id}:{kb.content_version}" for kb in self.kbs) or "none"


async def knowledge_target(
    session: AsyncSession, workspace_id: uuid.UUID, config: SolutionConfig, ctx: AppContext | None = None
) -> KnowledgeTarget:
    """The workspace's own choice of knowledge bases (``config.knowledge_bases``, given ``ctx``), else ``config.kb``.

    A name that no longer exists in the workspace is left out.
    """
    names: Sequence[str] = [config.kb] if config.kb else []
    if ctx is not None and config.knowledge_bases is not None:
        names = await config.knowledge_bases(ctx, workspace_id)
    found: list[KnowledgeBase] = []
    for name in names:
        try:
            kb = await get_kb(session, workspace_id, name)
        except NotFound:
            continue
        if kb not in found:
            found.append(kb)
    return KnowledgeTarget(tuple(found))


def answer_model(ctx: AppContext) -> str:
    """Which models write answers: part of every cache key, so a provider or generation change invalidates."""
    provider, _ = generation_provider(ctx.settings, ctx.providers)
    if provider is None:
        return "extractive"
    return ">".join(f"{name}:{ctx.providers.chat(name).model}" for name in ctx.settings.fallback_chain())


def prompt_version(config: SolutionConfig) -> str:
    return f"{PROMPT_VERSION}-{digest(SYSTEM_PROMPT, config.greeting, config.help_text)[:12]}"


@dataclass
class KnowledgeAnswer:
    text: str
    known: bool
    method: str
    confidence: float
    citations: list[dict[str, Any]] = field(default_factory=list)


def _hit_json(hit: Hit) -> dict[str, Any]:
    data = asdict(hit)
    for name in _UUID_FIELDS:
        data[name] = str(data[name])
    return data


def _hit_of(data: dict[str, Any]) -> Hit:
    return Hit(**{**data, **{name: uuid.UUID(data[name]) for name in _UUID_FIELDS}})


async def retrieve(ctx: AppContext, target: KnowledgeTarget, question: str, vector: Sequence[float]) -> list[Hit]:
    """Hybrid search of the target's knowledge bases, through L4.

    Chat shorthand is spelled out first ("wat r ur fees"): the question is then embedded again (`vector` is the
    customer's own wording, embedded for the semantic cache).
    """
    assert target.kbs, "retrieve needs at least one knowledge base"
    normalised = normalise_question(question)
    if normalised != question:
        question = normalised
        vector = await retriever_of(ctx.extras, ctx.providers.embedder()).embed_query(question)
    kb = target.kbs[0]
    options = options_from_settings(ctx.settings, top_k=TOP_K)
    key = conversation_cache(ctx).l4_key(
        kb.workspace_id,
        target.version,
        question,
        {
            "mode": options.mode,
            "top_k": options.top_k,
            "rrf": options.rrf_k,
            "weights": [options.semantic_weight, options.keyword_weight],
        },
    )
    cached = await conversation_cache(ctx).l4.get(key)
    if isinstance(cached, list):
        return [_hit_of(item) for item in cached]
    retriever = retriever_of(ctx.extras, ctx.providers.embedder())
    async with ctx.db.session() as session:
        result = await retriever.search(
            session,
            workspace_id=kb.workspace_id,
            kbs=list(target.kbs),
            query=question,
            options=options,
            query_vector=list(vector),
        )
    await conversation_cache(ctx).l4.set(key, [_hit_json(hit) for hit in result.hits])
    return result.hits


def _answerer(ctx: AppContext) -> Answerer:
    provider, override = generation_provider(ctx.settings, ctx.providers)
    return Answerer(
        ctx.providers.embedder(),
        provider,
        model=override,
        min_score=ctx.settings.answer_min_score,
        min_sentence_score=ctx.settings.answer_min_sentence_score,
    )


async def answer_question(
    ctx: AppContext,
    target: KnowledgeTarget,
    question: str,
    vector: Sequence[float],
    emit: Callable[[str], Awaitable[None]],
) -> KnowledgeAnswer:
    """An answer from the knowledge base as clean prose for a customer, its sources as structured citations.

    A model's draft is never streamed to the customer: it may fail the support check, so only the final answer
    (the checked draft or the extractive answer) is emitted, once.
    """
    if target.kb is None:
        return KnowledgeAnswer("", False, "none", 0.0)
    hits = await retrieve(ctx, target, question, vector)
    final = await _answerer(ctx).answer(question, hits)
    if not final.known:
        return KnowledgeAnswer("", False, final.method, final.confidence)
    await emit(final.prose)
    citations = [citation_of(n, hits[n - 1]).model_dump(mode="json") for n in final.cited if 0 < n <= len(hits)]
    return KnowledgeAnswer(final.prose, True, final.method, final.confidence, citations)
