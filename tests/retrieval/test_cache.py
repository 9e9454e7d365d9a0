"""core.cache: the in-process LRU, Redis, and the fall-back to memory when Redis is away; query-cache keys."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from opsdesk.core.cache import MemoryCache, Namespace, RedisCache
from opsdesk.knowledge.query.cache import cache_key, normalise_query
from opsdesk.knowledge.query.schemas import QueryIn


async def test_memory_cache_expires_and_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_items=2)
    await cache.set("a", b"1", ttl_s=60)
    await cache.set("b", b"2", ttl_s=60)
    assert await cache.get("a") == b"1"  # a is now the most recent
    await cache.set("c", b"3", ttl_s=60)
    assert await cache.get("b") is None and await cache.get("a") == b"1" and await cache.get("c") == b"3"
    await cache.set("short", b"x", ttl_s=0.05)
    await asyncio.sleep(0.1)
    assert await cache.get("short") is None


async def test_namespace_round_trips_json() -> None:
    ns = Namespace(MemoryCache(), "t")
    await ns.set_json("k", {"a": [1, 2]}, ttl_s=10)
    assert await ns.get_json("k") == {"a": [1, 2]}
    await ns.delete("k")
    assert await ns.get_json("k") is None


async def test_unreachable_redis_degrades_to_memory() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0")
    await cache.set("k", b"v", ttl_s=10)
    assert cache.backend == "memory"
    assert await cache.get("k") == b"v"
    await cache.aclose()


@pytest.mark.redis
async def test_redis_cache_shares_values_between_instances(redis_url: str) -> None:
    first, second = RedisCache(redis_url), RedisCache(redis_url)
    key = f"test-{uuid.uuid4()}"
    await first.set(key, b"shared", ttl_s=10)
    assert await second.get(key) == b"shared"
    assert first.backend == "redis"
    await second.delete(key)
    assert await first.get(key) is None
    await first.aclose()
    await second.aclose()


def test_cache_keys_depend_on_workspace_kb_content_version_and_options() -> None:
    ws, kb = uuid.uuid4(), uuid.uuid4()
    base = QueryIn(query="Hotel costs?")
    key = cache_key(ws, kb, 3, base)
    assert key == cache_key(ws, kb, 3, QueryIn(query="  hotel   COSTS? "))
    assert key != cache_key(ws, kb, 4, base)
    assert key != cache_key(uuid.uuid4(), kb, 3, base)
    assert key != cache_key(ws, uuid.uuid4(), 3, base)
    assert key != cache_key(ws, kb, 3, QueryIn(query="Hotel costs?", mode="keyword"))
    assert key != cache_key(ws, kb, 3, QueryIn(query="Hotel costs?", answer=True))
    fullwidth_hotel = "\uff28\uff2f\uff34\uff25\uff2c"
    assert normalise_query(f"  {fullwidth_hotel}\tcosts ") == "hotel costs"
