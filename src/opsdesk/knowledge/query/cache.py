"""The query cache: whole query responses keyed by workspace, knowledge base, its content version, the normalised
query and every option that changes the response.

Ingestion and deletion bump `knowledge_bases.content_version`, so every cached result of that knowledge base stops
being found at once (old entries simply expire); no explicit invalidation is needed, across processes too.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from typing import Any

import orjson

from opsdesk.core.cache import Cache, Namespace
from opsdesk.knowledge.query.schemas import QueryIn, QueryOut

NAMESPACE = "kbq"


def normalise_query(query: str) -> str:
    """Case, Unicode form and whitespace do not make a different question."""
    return " ".join(unicodedata.normalize("NFKC", query).casefold().split())


def cache_key(
    workspace_id: uuid.UUID, kb_id: uuid.UUID, content_version: int, request: QueryIn, extra: Any = None
) -> str:
    """A stable digest of everything the response depends on."""
    options = {
        "mode": request.mode,
        "top_k": request.top_k,
        "rerank": request.rerank,
        "answer": request.answer,
        "filters": {
            "tags": sorted(request.filters.tags),
            "doc_types": sorted(request.filters.doc_types),
            "document_ids": sorted(str(d) for d in request.filters.document_ids),
            "version": request.filters.version,
        },
        "extra": extra,
    }
    material = orjson.dumps(
        [str(workspace_id), str(kb_id), content_version, normalise_query(request.query), options],
        option=orjson.OPT_SORT_KEYS,
    )
    return f"{workspace_id}:{kb_id}:{hashlib.sha256(material).hexdigest()}"


class QueryCache:
    def __init__(self, cache: Cache, ttl_s: float) -> None:
        self._ns = Namespace(cache, NAMESPACE)
        self.ttl_s = ttl_s

    async def get(self, key: str) -> QueryOut | None:
        data = await self._ns.get_json(key)
        if data is None:
            return None
        try:
            result = QueryOut.model_validate(data)
        except ValueError:
            await self._ns.delete(key)
            return None
        return result.model_copy(update={"cached": True})

    async def put(self, key: str, result: QueryOut) -> None:
        if self.ttl_s > 0:
            await self._ns.set_json(key, result.model_dump(mode="json", exclude={"cached", "timings_ms"}), self.ttl_s)
