"""Rate limits (the `limits` library): Redis when configured, process memory otherwise or while Redis is down."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from opsdesk.core.errors import RateLimited
from opsdesk.core.logging import get_logger
from opsdesk.core.metrics import RATE_LIMIT_DEGRADED, RATE_LIMITED

_log = get_logger(__name__)
_RETRY_REDIS_AFTER_S = 15.0
T = TypeVar("T")


class RateLimiter:
    """Counts hits per key in fixed windows; raises RateLimited with a Retry-After when a key is over."""

    def __init__(self, redis_url: str | None = None) -> None:
        self._memory = MemoryStorage()
        self._redis: Storage | None = None
        if redis_url:
            # redis-py's asyncio client (already a dependency) rather than limits' default, coredis.
            self._redis = RedisStorage(
                "async+" + redis_url.removeprefix("async+"),
                implementation="redispy",
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
        self._degraded_until = 0.0
        self._items: dict[str, RateLimitItem] = {}

    @property
    def backend(self) -> str:
        if self._redis is not None and time.monotonic() >= self._degraded_until:
            return "redis"
        return "memory"

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    async def hit(self, scope: str, key: str, limit: str) -> None:
        """Counts one request of `key` against `limit` (e.g. "600/minute")."""
        item = self._item(limit)
        allowed, storage = await self._hit(item, f"{scope}:{key}")
        if allowed:
            return
        RATE_LIMITED.labels(scope).inc()
        try:
            stats = await FixedWindowRateLimiter(storage).get_window_stats(item, f"{scope}:{key}")
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        except Exception:
            retry_after = item.get_expiry()
        raise RateLimited(f"Rate limit of {limit} exceeded for this {scope}.", retry_after_s=retry_after)

    async def _hit(self, item: RateLimitItem, key: str) -> tuple[bool, Storage]:
        async def hit(storage: Storage) -> tuple[bool, Storage]:
            return await FixedWindowRateLimiter(storage).hit(item, key), storage

        return await self._on_storage(hit)

    # Counters for limits that are not plain windows (login backoff): same storage, same degradation.

    async def count(self, key: str, expiry_s: int) -> int:
        """Adds one to counter `key`, which lapses `expiry_s` after its first count; returns the new value."""
        return await self._on_storage(lambda storage: storage.incr(key, expiry_s))

    async def peek(self, key: str) -> tuple[int, int]:
        """Counter `key`'s value and the whole seconds until it lapses; (0, 0) when there is none."""

        async def read(storage: Storage) -> tuple[int, int]:
            value = await storage.get(key)
            return (value, max(1, math.ceil(await storage.get_expiry(key) - time.time()))) if value else (0, 0)

        return await self._on_storage(read)

    async def forget(self, key: str) -> None:
        await self._on_storage(lambda storage: storage.clear(key))

    async def _on_storage(self, operation: Callable[[Storage], Awaitable[T]]) -> T:
        if self._redis is not None and time.monotonic() >= self._degraded_until:
            try:
                return await operation(self._redis)
            except Exception as exc:
                self._degraded_until = time.monotonic() + _RETRY_REDIS_AFTER_S
                RATE_LIMIT_DEGRADED.inc()
                _log.warning(
                    "rate_limit_degraded_to_memory",
                    reason=f"{type(exc).__name__}: {exc}",
                    retry_redis_in_s=_RETRY_REDIS_AFTER_S,
                )
        return await operation(self._memory)

    async def reset(self) -> None:
        await self._memory.reset()
