"""Client-side pacing for APIs with a calls-per-window limit (Xero: 60 a minute, 5 at once, per tenant)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType


class CallLimiter:
    """Lets at most ``max_calls`` calls start in any sliding ``period_s`` window and ``max_concurrent`` run at once.

    Waiters are served in arrival order. ``hold_off`` (after a 429) stops every call from starting for a while.
    Share one instance per tenant within a process.
    """

    def __init__(
        self,
        max_calls: int,
        period_s: float = 60.0,
        *,
        max_concurrent: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_calls < 1 or period_s <= 0:
            raise ValueError("max_calls must be at least 1 and period_s positive")
        self.max_calls = max_calls
        self.period_s = period_s
        self._clock = clock
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(max_concurrent) if max_concurrent else None
        self._blocked_until = 0.0

    def delay(self) -> float:
        """Seconds the next call would wait for the window (0 when it may start now)."""
        now = self._clock()
        self._forget_before(now - self.period_s)
        wait = self._blocked_until - now
        if len(self._starts) >= self.max_calls:
            wait = max(wait, self._starts[0] + self.period_s - now)
        return max(0.0, wait)

    def hold_off(self, seconds: float) -> None:
        """No call starts for ``seconds`` (e.g. the upstream said Retry-After)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    async def acquire(self) -> None:
        """Waits for a concurrency slot and a place in the window."""
        if self._slots is not None:
            await self._slots.acquire()
        try:
            async with self._lock:
                # A timed wait, not an event: the window frees itself as time passes (hold_off may extend it).
                while (wait := self.delay()) > 0:  # noqa: ASYNC110
                    await asyncio.sleep(wait)
                self._starts.append(self._clock())
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise

    def release(self) -> None:
        """Frees the concurrency slot taken by ``acquire``."""
        if self._slots is not None:
            self._slots.release()

    async def __aenter__(self) -> CallLimiter:
        await self.acquire()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _forget_before(self, cutoff: float) -> None:
        while self._starts and self._starts[0] <= cutoff:
            self._starts.popleft()
