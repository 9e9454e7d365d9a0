"""The conversation cache tiers and their keys.

* L1 exact response: workspace + solution + knowledge-base version + model + prompt version + the normalised text
  + a fingerprint of the session state. Only replies to the solution's stateless intents are stored, so an order
  message is never answered from it.
* L2 semantic answers (pgvector, see `semantic.py`): the same scope, matched by question embedding.
* L3 intent results: workspace + solution + classifier version (+ LLM chain) + normalised text + context.
* L4 retrieval results: workspace + knowledge base + its content version + normalised question + search options.

Any change of model, prompt version or knowledge-base content changes every key, so nothing stale is served;
old entries simply expire. L1, L3 and L4 live in the process cache (Redis when configured).
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import Counter

from opsdesk.app.context import AppContext
from opsdesk.core.cache import Namespace, cache_of

CACHE_LOOKUPS = Counter(
    "opsdesk_conversation_cache_total", "Conversation cache look-ups by tier (l1-l4) and outcome.", ["tier", "outcome"]
)
# Bump when the runtime's own reply texts or answer assembly change, so cached replies are not reused.
PROMPT_VERSION = "conv-2"


def normalise_text(text: str) -> str:
    """Case, Unicode form and whitespace do not make a different message."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def digest(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def count(tier: str, hit: bool) -> None:
    CACHE_LOOKUPS.labels(tier, "hit" if hit else "miss").inc()


@dataclass(frozen=True)
class CacheScope:
    """Everything a cached answer depends on besides the question itself."""

    workspace_id: uuid.UUID
    solution: str
    kb_version: str  # "<kb id>:<content version>", or "none"
    model: str
    prompt_version: str

    def digest(self) -> str:
        return digest(str(self.workspace_id), self.solution, self.kb_version, self.model, self.prompt_version)[:48]


def state_fingerprint(state: Mapping[str, Any], last_intent: str | None) -> str:
    """The conversation context a reply may depend on."""
    return digest(dict(state), last_intent)[:32]


class _Tier:
    def __init__(self, ctx: AppContext, tier: str, ttl_s: float) -> None:
        self.tier = tier
        self.ttl_s = ttl_s
        self._ns = Namespace(cache_of(ctx.extras, ctx.settings), f"conv-{tier}")

    async def get(self, key: str) -> Any | None:
        value = await self._ns.get_json(key)
        count(self.tier, value is not None)
        return value

    async def set(self, key: str, value: Any) -> None:
        if self.ttl_s > 0:
            await self._ns.set_json(key, value, self.ttl_s)


class ConversationCache:
    """L1, L3 and L4 of one process."""

    def __init__(self, ctx: AppContext) -> None:
        settings = ctx.settings
        self.l1 = _Tier(ctx, "l1", settings.cache_l1_ttl_s)
        self.l3 = _Tier(ctx, "l3", settings.cache_l3_ttl_s)
        self.l4 = _Tier(ctx, "l4", settings.cache_l4_ttl_s)

    @staticmethod
    def l1_key(scope: CacheScope, text: str, fingerprint: str) -> str:
        return f"{scope.workspace_id}:{digest(scope.digest(), normalise_text(text), fingerprint)}"

    @staticmethod
    def l3_key(workspace_id: uuid.UUID, solution: str, classifier: str, text: str, context: list[str | None]) -> str:
        return f"{workspace_id}:{digest(solution, classifier, normalise_text(text), context)}"

    @staticmethod
    def l4_key(workspace_id: uuid.UUID, kb_version: str, question: str, options: Mapping[str, Any]) -> str:
        return f"{workspace_id}:{digest(kb_version, normalise_text(question), dict(options))}"


def conversation_cache(ctx: AppContext) -> ConversationCache:
    """The process's conversation cache, kept in `ctx.extras`."""
    cache = ctx.extras.get("conversation.cache")
    if not isinstance(cache, ConversationCache):
        cache = ctx.extras["conversation.cache"] = ConversationCache(ctx)
    return cache
