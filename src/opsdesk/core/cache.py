"""A small key-value cache with TTLs: process memory (LRU), or Redis when configured (then shared by every API
process: the conversation tiers L1, L3, L4, the query cache and the answers in flight live there).

Values are bytes; `get_json`/`set_json` add orjson on top. When Redis fails, the cache logs a warning, serves from
process memory and tries Redis again a little later, so a Redis outage slows nothing down and breaks nothing.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Protocol

import orjson
from prometheus_client import Counter

from opsdesk.core.logging import get_logger
from opsdesk.core.settings import Settings

_log = get_logger(__name__)
_RETRY_REDIS_AFTER_S = 15.0

CACHE_REQUESTS = Counter("opsdesk_cache_requests_total", "Cache look-ups by namespace and outcome.", ["ns", "outcome"])
CACHE_DEGRADED = Counter("opsdesk_cache_degraded_total", "Times the cache fell back from Redis to process memory.")


class Cache(Protocol):
    """What every cache backend offers."""

    @property
    def backend(self) -> str: ...

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


class MemoryCache:
    """An in-process LRU with a TTL per entry; bounded by item count."""

    backend = "memory"

    def __init__(self, max_items: int = 10_000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        return self.get_sync(key)

    def get_sync(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires_at, value = item
        if expires_at <= time.monotonic():
            self._items.pop(key, None)
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        self.set_sync(key, value, ttl_s)

    def set_sync(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self._items[key] = (time.monotonic() + ttl_s, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    async def aclose(self) -> None:
        self._items.clear()


class RedisCache:
    """Redis with process memory as the fallback while Redis is unreachable."""

    def __init__(self, url: str, *, prefix: str = "opsdesk:cache:", fallback: MemoryCache | None = None) -> None:
        import redis.asyncio as redis

        # A pooled connection is opened once, so its bound can be generous (a loaded host misses 0.5 s); a command
        # that hangs longer than a second degrades to process memory instead of holding the request.
        self._client: Any = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=3.0)
        self._prefix = prefix
        self._fallback = fallback or MemoryCache()
        self._degraded_until = 0.0

    @property
    def backend(self) -> str:
        return "redis" if time.monotonic() >= self._degraded_until else "memory"

    @property
    def client(self) -> Any | None:
        """The Redis client for structures beyond key-value (in-flight answers); None while Redis is degraded."""
        return self._client if self.backend == "redis" else None

    def degrade(self, exc: Exception) -> None:
        """Serves from process memory for a while (a caller of `client` saw Redis fail)."""
        self._degrade(exc)

    def _degrade(self, exc: Exception) -> None:
        if time.monotonic() >= self._degraded_until:
            _log.warning("cache_redis_unavailable", error=str(exc), retry_in_s=_RETRY_REDIS_AFTER_S)
            CACHE_DEGRADED.inc()
        self._degraded_until = time.monotonic() + _RETRY_REDIS_AFTER_S

    async def get(self, key: str) -> bytes | None:
        if self.backend == "memory":
            return await self._fallback.get(key)
        try:
            value: bytes | None = await self._client.get(self._prefix + key)
            return value
        except Exception as exc:
            self._degrade(exc)
            return await self._fallback.get(key)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        if self.backend == "memory":
            await self._fallback.set(key, value, ttl_s)
            return
        try:
            await self._client.set(self._prefix + key, value, px=max(1, int(ttl_s * 1000)))
        except Exception as exc:
            self._degrade(exc)
            await self._fallback.set(key, value, ttl_s)

    async def delete(self, key: str) -> None:
        await self._fallback.delete(key)
        if self.backend == "memory":
            return
        try:
            await self._client.delete(self._prefix + key)
        except Exception as exc:
            self._degrade(exc)

    async def aclose(self) -> None:
        try:
            await self._client.aclose()
        except Exception:  # closing a broken connection must not fail shutdown
            pass
        await self._fallback.aclose()


def shared_redis(cache: Cache) -> RedisCache | None:
    """The cache as Redis (shared by every process), or None when it is process memory."""
    return cache if isinstance(cache, RedisCache) else None


def build_cache(settings: Settings) -> Cache:
    """Redis when `OPSDESK_REDIS_URL` is set, process memory otherwise."""
    if settings.redis_url is not None:
        return RedisCache(settings.redis_url.get_secret_value())
    return MemoryCache()


class Namespace:
    """A named slice of a cache with JSON values and hit/miss metrics."""

    def __init__(self, cache: Cache, name: str) -> None:
        self.cache = cache
        self.name = name

    def _key(self, key: str) -> str:
        return f"{self.name}:{key}"

    async def get_json(self, key: str) -> Any | None:
        raw = await self.cache.get(self._key(key))
        CACHE_REQUESTS.labels(self.name, "miss" if raw is None else "hit").inc()
        if raw is None:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.cache.delete(self._key(key))
            return None

    async def set_json(self, key: str, value: Any, ttl_s: float) -> None:
        await self.cache.set(self._key(key), orjson.dumps(value), ttl_s)

    async def delete(self, key: str) -> None:
        await self.cache.delete(self._key(key))


def cache_of(extras: dict[str, Any], settings: Settings) -> Cache:
    """The process's cache, kept in `AppContext.extras` and built on first use."""
    cache = extras.get("cache")
    if cache is None:
        cache = extras["cache"] = build_cache(settings)
    return cache  # type: ignore[no-any-return]
