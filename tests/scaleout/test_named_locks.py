"""Cross-process locks: two `NamedLocks` are two processes (each its own PostgreSQL connection)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from opsdesk.db.locks import LockBusy, NamedLocks


@pytest.fixture
async def two_processes(database_url: str) -> AsyncIterator[tuple[NamedLocks, NamedLocks]]:
    first, second = NamedLocks(database_url), NamedLocks(database_url)
    try:
        yield first, second
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_name_held_in_one_process_waits_in_the_other_until_released(
    two_processes: tuple[NamedLocks, NamedLocks],
) -> None:
    first, second = two_processes
    order: list[str] = []
    entered, released = asyncio.Event(), asyncio.Event()

    async def hold_first() -> None:
        async with first.hold("conversation:1"):
            order.append("first in")
            entered.set()
            await released.wait()
            order.append("first out")

    holder = asyncio.create_task(hold_first())
    await entered.wait()

    async def hold_second() -> None:
        async with second.hold("conversation:1"):
            order.append("second in")

    waiter = asyncio.create_task(hold_second())
    await asyncio.sleep(0.3)
    assert order == ["first in"]  # still waiting: the other process holds the name
    released.set()
    await asyncio.gather(holder, waiter)
    assert order == ["first in", "first out", "second in"]


async def test_other_names_are_not_held_back(two_processes: tuple[NamedLocks, NamedLocks]) -> None:
    first, second = two_processes
    async with first.hold("conversation:1"), second.hold("conversation:2"), first.hold("conversation:3"):
        pass


async def test_a_waiter_gives_up_with_busy_after_its_timeout(two_processes: tuple[NamedLocks, NamedLocks]) -> None:
    first, second = two_processes
    async with first.hold("conversation:1"):
        with pytest.raises(LockBusy):
            async with second.hold("conversation:1", timeout_s=0.2):
                pass
    async with second.hold("conversation:1", timeout_s=0.2):  # free again
        pass


async def test_turns_in_one_process_queue_in_memory_on_one_connection(database_url: str) -> None:
    locks = NamedLocks(database_url)
    running, most = 0, 0

    async def turn() -> None:
        nonlocal running, most
        async with locks.hold("conversation:1"):
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1

    try:
        await asyncio.gather(*(turn() for _ in range(20)))
        assert most == 1
    finally:
        await locks.aclose()


async def test_a_lost_connection_releases_its_names_and_the_next_hold_reconnects(
    two_processes: tuple[NamedLocks, NamedLocks],
) -> None:
    first, second = two_processes
    async with first.hold("conversation:1"):
        first._conn.terminate()  # the process's connection dies: PostgreSQL releases what it held
        async with second.hold("conversation:1", timeout_s=5):
            pass
    async with first.hold("conversation:1", timeout_s=5):
        pass
