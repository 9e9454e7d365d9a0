"""Time a request spends waiting on model providers, so opsdesk can report what it adds on top.

The HTTP middleware starts a clock per request; the provider layer adds the wall time of every upstream call
(each attempt, each fallback) to it. At the response start the middleware reports

    overhead = time since the request reached opsdesk - time spent in upstream calls

as the `x-opsdesk-overhead-ms` header and the `opsdesk_overhead_seconds` histogram. This is the quantity LiteLLM
publishes as "LiteLLM Overhead Duration"; retries' back-off waits count as overhead.
"""

from __future__ import annotations

from contextvars import ContextVar


class UpstreamClock:
    """Seconds spent in upstream calls during one request, and how many calls."""

    __slots__ = ("calls", "seconds")

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0


_CLOCK: ContextVar[UpstreamClock | None] = ContextVar("opsdesk_upstream_clock", default=None)


def start_clock() -> UpstreamClock:
    """A fresh clock for the current request (the handler runs in the same context and sees it)."""
    clock = UpstreamClock()
    _CLOCK.set(clock)
    return clock


def add_upstream_time(seconds: float) -> None:
    """Counts one upstream call against the current request, if there is one."""
    clock = _CLOCK.get()
    if clock is not None:
        clock.seconds += seconds
        clock.calls += 1
