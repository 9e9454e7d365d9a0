"""Answers being computed right now: the L2 tier's view of the near future.

When fifty customers ask "what are your payment terms?" within a second, every one of them misses L2 (the first
answer is not stored yet) and each would compute the same answer on the same model. A stateless question that L2
would answer from a question still in flight waits for that answer instead, under the same verification
(`semantic.choose`: threshold, margin, agreement of numbers, calendar words and subjects). If the leader's reply
turns out not to be cacheable, or it fails, each follower computes its own.

With Redis configured the questions in flight are also registered there (a hash per cache scope), so a question
being answered by another API process is waited for too: the follower polls for the leader's answer key for at most
`WAIT_S` (and stops as soon as the leader's entry is gone), then answers for itself. Without Redis, or while it
fails, coalescing is per process.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from opsdesk.conversation.pair_verifier import PairVerifier
from opsdesk.conversation.semantic import NO_SUBJECTS, Candidate, SubjectTerms, choose
from opsdesk.core.cache import RedisCache, cache_of, shared_redis
from opsdesk.core.logging import get_logger
from opsdesk.core.settings import Settings

Payload = dict[str, Any]
_log = get_logger(__name__)
_PREFIX = "opsdesk:inflight:"
WAIT_S = 20.0  # longest a follower waits for another process's answer before computing its own
LEAD_TTL_S = 60.0  # a leader that died leaves an entry other processes ignore after this
_ANSWER_TTL_S = 30.0
_POLL_S = 0.05


@dataclass
class _Entry:
    question: str
    vector: np.ndarray[Any, np.dtype[np.float32]]
    answer: asyncio.Future[Payload | None]
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class _Remote:
    """A question another process is answering."""

    id: uuid.UUID
    question: str
    vector: np.ndarray[Any, np.dtype[np.float32]]
    until: float  # wall-clock time after which the entry is ignored


class InFlight:
    """Stateless questions whose answers are being computed, per cache scope: this process's, and (with Redis) every
    other API process's."""

    def __init__(self, redis: RedisCache | None = None, *, wait_s: float = WAIT_S) -> None:
        self._entries: dict[str, list[_Entry]] = {}
        self._redis = redis
        self.wait_s = wait_s

    async def find(
        self,
        scope: str,
        question: str,
        vector: Sequence[float],
        threshold: float,
        margin: float,
        subjects: SubjectTerms = NO_SUBJECTS,
        verifier: PairVerifier | None = None,
    ) -> asyncio.Future[Payload | None] | None:
        """The pending answer that may serve `question`, or None."""
        local = self._entries.get(scope, [])
        remote = await self._remote_entries(scope, {entry.id for entry in local})
        if not local and not remote:
            return None
        query = np.asarray(vector, dtype=np.float32)
        pending: list[_Entry | _Remote] = [*local, *remote]
        scored = sorted(
            ((float(entry.vector @ query), entry) for entry in pending), key=lambda pair: pair[0], reverse=True
        )
        # Distinct placeholders per entry, so the margin rule sees two different pending answers as different.
        candidates = [
            Candidate(entry.id, entry.question, {"pending": str(entry.id)}, score, entry.vector)
            for score, entry in scored
        ]
        found = choose(question, candidates, threshold, margin, subjects, verifier, query)
        if found is None:
            return None
        chosen = next(entry for _, entry in scored if entry.id == found.id)
        if isinstance(chosen, _Entry):
            return chosen.answer
        return asyncio.ensure_future(self._await_remote(scope, chosen))

    @asynccontextmanager
    async def lead(
        self, scope: str, question: str, vector: Sequence[float]
    ) -> AsyncIterator[asyncio.Future[Payload | None]]:
        """Registers `question` as in flight; set the yielded future to the cacheable payload (or None)."""
        answer: asyncio.Future[Payload | None] = asyncio.get_running_loop().create_future()
        entry = _Entry(question, np.asarray(vector, dtype=np.float32), answer)
        self._entries.setdefault(scope, []).append(entry)
        shared = await self._register(scope, entry)
        try:
            yield answer
        finally:
            if not answer.done():
                answer.set_result(None)  # failed or not cacheable: followers answer for themselves
            remaining = [item for item in self._entries.get(scope, []) if item is not entry]
            if remaining:
                self._entries[scope] = remaining
            else:
                self._entries.pop(scope, None)
            if shared:
                await self._publish(scope, entry, answer.result())

    # ------------------------------------------------------------------------------------------- Redis

    def _client(self) -> Any | None:
        return self._redis.client if self._redis is not None else None

    def _failed(self, exc: Exception) -> None:
        if self._redis is not None:
            self._redis.degrade(exc)

    async def _register(self, scope: str, entry: _Entry) -> bool:
        client = self._client()
        if client is None:
            return False
        value = {"q": entry.question, "v": entry.vector.tolist(), "until": time.time() + LEAD_TTL_S}
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.hset(_PREFIX + scope, str(entry.id), orjson.dumps(value))
                pipe.pexpire(_PREFIX + scope, int(LEAD_TTL_S * 1000))
                await pipe.execute()
        except Exception as exc:
            self._failed(exc)
            return False
        return True

    async def _publish(self, scope: str, entry: _Entry, payload: Payload | None) -> None:
        client = self._client()
        if client is None:
            return
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(_answer_key(entry.id), orjson.dumps({"payload": payload}), px=int(_ANSWER_TTL_S * 1000))
                pipe.hdel(_PREFIX + scope, str(entry.id))
                await pipe.execute()
        except Exception as exc:  # followers elsewhere stop waiting when the entry lapses and answer themselves
            self._failed(exc)

    async def _remote_entries(self, scope: str, own: set[uuid.UUID]) -> list[_Remote]:
        client = self._client()
        if client is None:
            return []
        try:
            raw: dict[bytes, bytes] = await client.hgetall(_PREFIX + scope)
        except Exception as exc:
            self._failed(exc)
            return []
        now, found = time.time(), []
        for key, value in raw.items():
            try:
                entry_id, data = uuid.UUID(key.decode()), orjson.loads(value)
                vector = np.asarray(data["v"], dtype=np.float32)
                remote = _Remote(entry_id, str(data["q"]), vector, float(data["until"]))
            except (ValueError, KeyError, TypeError):
                continue
            if remote.id not in own and remote.until > now:
                found.append(remote)
        return found

    async def _await_remote(self, scope: str, entry: _Remote) -> Payload | None:
        """Another process's answer, or None when it has none (not cacheable, failed, died) or takes too long."""
        deadline = time.monotonic() + min(self.wait_s, max(0.0, entry.until - time.time()))
        while True:
            client = self._client()
            if client is None:
                return None
            try:
                async with client.pipeline(transaction=False) as pipe:
                    # Entry first: the leader writes the answer before removing its entry, so "gone" then "no
                    # answer" really means there is none.
                    pipe.hexists(_PREFIX + scope, str(entry.id))
                    pipe.get(_answer_key(entry.id))
                    running, raw = await pipe.execute()
            except Exception as exc:
                self._failed(exc)
                return None
            if raw is not None:
                payload = orjson.loads(raw).get("payload")
                return payload if isinstance(payload, dict) else None
            if not running or time.monotonic() >= deadline:
                if running:
                    _log.info("inflight_wait_gave_up", scope=scope[:12])
                return None
            await asyncio.sleep(_POLL_S)


def _answer_key(entry_id: uuid.UUID) -> str:
    return f"{_PREFIX}answer:{entry_id}"


def inflight_of(extras: dict[str, Any], settings: Settings) -> InFlight:
    """The process's registry, kept in the app context's extras (shared through Redis when it is the cache)."""
    registry = extras.get("conversation.inflight")
    if not isinstance(registry, InFlight):
        registry = extras["conversation.inflight"] = InFlight(shared_redis(cache_of(extras, settings)))
    return registry
