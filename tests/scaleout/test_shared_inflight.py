"""Answers in flight, shared through Redis: two `InFlight` registries are two API processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from opsdesk.conversation.inflight import InFlight
from opsdesk.core.cache import RedisCache

pytestmark = pytest.mark.redis

QUESTION = "What are your payment terms?"


def _vector(seed: int = 1) -> list[float]:
    vector = np.random.default_rng(seed).normal(size=384).astype(np.float32)
    return [float(x) for x in vector / np.linalg.norm(vector)]


@pytest.fixture
async def two_processes(redis_url: str) -> AsyncIterator[tuple[InFlight, InFlight]]:
    caches = [RedisCache(redis_url), RedisCache(redis_url)]
    try:
        yield InFlight(caches[0]), InFlight(caches[1], wait_s=2.0)
    finally:
        for cache in caches:
            await cache.aclose()


async def _find(registry: InFlight, scope: str, vector: list[float]) -> Any:
    return await registry.find(scope, QUESTION, vector, threshold=0.8, margin=0.0)


async def test_a_question_answered_in_another_process_is_waited_for(two_processes: tuple[InFlight, InFlight]) -> None:
    leader, follower = two_processes
    scope, vector = uuid.uuid4().hex, _vector()
    async with leader.lead(scope, QUESTION, vector) as answer:
        pending = await _find(follower, scope, vector)
        assert pending is not None
        answer.set_result({"text": "Net 30."})
    assert await pending == {"text": "Net 30."}
    assert await _find(follower, scope, vector) is None  # nothing in flight any more


async def test_followers_answer_for_themselves_when_the_leader_has_nothing_to_share(
    two_processes: tuple[InFlight, InFlight],
) -> None:
    leader, follower = two_processes
    scope, vector = uuid.uuid4().hex, _vector()
    async with leader.lead(scope, QUESTION, vector):
        pending = await _find(follower, scope, vector)
        assert pending is not None
    assert await pending is None  # not cacheable (or failed): the follower computes its own


async def test_a_follower_stops_waiting_after_its_timeout(two_processes: tuple[InFlight, InFlight]) -> None:
    leader, follower = two_processes
    scope, vector = uuid.uuid4().hex, _vector()
    async with leader.lead(scope, QUESTION, vector) as answer:
        pending = await _find(follower, scope, vector)
        assert pending is not None
        assert await pending is None  # wait_s is 2 s here; the leader is still busy
        answer.set_result({"text": "late"})


async def test_a_different_question_does_not_wait(two_processes: tuple[InFlight, InFlight]) -> None:
    leader, follower = two_processes
    scope = uuid.uuid4().hex
    async with leader.lead(scope, QUESTION, _vector(1)):
        assert await _find(follower, scope, _vector(2)) is None
