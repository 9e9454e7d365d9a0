"""The one retry policy and the guard around every chat provider: timeout, retries, circuit breaker, accounting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import pybreaker
from prometheus_client import Gauge
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from opsdesk.core import telemetry
from opsdesk.core.logging import get_logger
from opsdesk.core.settings import ProviderSettings
from opsdesk.core.upstream_clock import add_upstream_time
from opsdesk.providers.accounting import CallRecord, CallRecorder, cost_usd
from opsdesk.providers.llm.base import (
    ChatChunk,
    ChatProvider,
    ChatRequest,
    ChatResult,
    InvalidModelRequest,
    UpstreamError,
    Usage,
)

log = get_logger(__name__)
T = TypeVar("T")

BREAKER_OPEN = Gauge("opsdesk_provider_breaker_open", "1 while a provider's circuit breaker is open.", ["provider"])


class CircuitOpenError(UpstreamError):
    """The provider's circuit breaker is open: the call was refused without reaching the upstream."""

    def __init__(self, provider: str, reset_timeout_s: float) -> None:
        super().__init__(
            f"{provider} is failing; its circuit breaker is open (retry after about {reset_timeout_s:g}s)",
            retryable=False,
        )

    @property
    def outcome(self) -> str:
        return "breaker_open"


@dataclass(frozen=True)
class RetryTiming:
    """How long to wait between attempts; tests shrink these."""

    base_wait_s: float = 0.5
    max_wait_s: float = 8.0
    # A longer Retry-After is not waited out: the call fails so a fallback can answer now.
    retry_after_cap_s: float = 30.0


def retry_policy(max_retries: int, timing: RetryTiming = RetryTiming()) -> AsyncRetrying:
    """Retries retryable UpstreamErrors with exponential backoff and jitter, honouring Retry-After up to a cap."""
    backoff = wait_exponential_jitter(initial=timing.base_wait_s, max=timing.max_wait_s, jitter=timing.base_wait_s)

    def should_retry(exc: BaseException) -> bool:
        if not isinstance(exc, UpstreamError) or not exc.retryable:
            return False
        return exc.retry_after_s is None or exc.retry_after_s <= timing.retry_after_cap_s

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = backoff(state)
        if isinstance(exc, UpstreamError) and exc.retry_after_s is not None:
            return max(delay, exc.retry_after_s)
        return delay

    return AsyncRetrying(
        stop=stop_after_attempt(max_retries + 1), wait=wait, retry=retry_if_exception(should_retry), reraise=True
    )


async def with_timeout(awaitable: Awaitable[T], timeout_s: float, provider: str) -> T:
    """Awaits with a deadline; a miss becomes a retryable UpstreamError that says "timed out"."""
    try:
        async with asyncio.timeout(timeout_s):  # no extra task per call, unlike wait_for on 3.11
            return await awaitable
    except TimeoutError as exc:
        raise UpstreamError(f"{provider} timed out after {timeout_s:g}s", retryable=True) from exc


def _not_a_provider_fault(exc: BaseException) -> bool:
    # 4xx answers prove the upstream is up, and a caller going away says nothing about it either. A request the
    # caller got wrong (InvalidModelRequest) must never count: else one tenant's bad requests open the breaker
    # for every workspace.
    return isinstance(exc, asyncio.CancelledError | GeneratorExit | InvalidModelRequest) or (
        isinstance(exc, UpstreamError) and not exc.retryable
    )


class _BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        name = cb.name or "?"
        BREAKER_OPEN.labels(name).set(1 if new_state.name == pybreaker.STATE_OPEN else 0)
        log.warning("provider_breaker_state", provider=name, old=getattr(old_state, "name", None), new=new_state.name)


class ResilientChat:
    """Wraps one provider with a per-attempt timeout, retries, a circuit breaker and call accounting."""

    def __init__(
        self,
        inner: ChatProvider,
        cfg: ProviderSettings,
        recorder: CallRecorder | None = None,
        fail_max: int = 5,
        reset_timeout_s: float = 30.0,
        *,
        timing: RetryTiming = RetryTiming(),
    ) -> None:
        self.name = inner.name
        self.model = inner.model
        self.inner = inner
        self._cfg = cfg
        self._recorder = recorder
        self._timing = timing
        self._reset_timeout_s = reset_timeout_s
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout_s,
            exclude=[_not_a_provider_fault],
            listeners=[_BreakerLog()],
            name=inner.name,
            # Keep the real error when the breaker trips; the next call gets CircuitOpenError.
            throw_new_error_on_trip=False,
        )

    @property
    def breaker_state(self) -> str:
        """ "closed", "open" or "half-open"."""
        return str(self._breaker.current_state)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """One reply, retried and guarded."""
        result: ChatResult | None = None
        async for attempt in retry_policy(self._cfg.max_retries, self._timing):
            with attempt:
                result = await self._complete_once(request)
        assert result is not None  # AsyncRetrying either ran the block to success or re-raised
        return result

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Streamed reply; retries and the breaker apply until the first chunk, not after."""
        opened: tuple[AsyncIterator[ChatChunk], ChatChunk | None, float] | None = None
        async for attempt in retry_policy(self._cfg.max_retries, self._timing):
            with attempt:
                opened = await self._open_stream(request)
        assert opened is not None
        chunks, first, started = opened
        usage = Usage()
        outcome, error = "ok", None
        try:
            chunk = first
            while chunk is not None:
                usage = chunk.usage or usage
                yield chunk
                chunk = await with_timeout(_next(chunks), self._cfg.timeout_s, self.name)
        except UpstreamError as exc:
            outcome, error = exc.outcome, str(exc)
            raise
        except Exception as exc:
            outcome, error = "error", f"{self.name} stream failed: {exc!r}"
            raise UpstreamError(error, retryable=False) from exc
        finally:
            await _close(chunks)
            self._record(request, started, outcome, usage, error)

    async def aclose(self) -> None:
        """Closes the wrapped provider."""
        await self.inner.aclose()

    async def _complete_once(self, request: ChatRequest) -> ChatResult:
        started = time.perf_counter()
        try:
            with self._breaker.calling():
                try:
                    with telemetry.span("provider.chat", **_span_attributes(self.name, request.model or self.model)):
                        result = await with_timeout(self.inner.complete(request), self._cfg.timeout_s, self.name)
                finally:
                    add_upstream_time(time.perf_counter() - started)
        except pybreaker.CircuitBreakerError as exc:
            error: UpstreamError = CircuitOpenError(self.name, self._reset_timeout_s)
            self._record(request, started, error.outcome, Usage(), str(error))
            raise error from exc
        except UpstreamError as exc:
            self._record(request, started, exc.outcome, Usage(), str(exc))
            raise
        except Exception as exc:
            error = UpstreamError(f"{self.name} failed unexpectedly: {exc!r}", retryable=False)
            self._record(request, started, "error", Usage(), str(error))
            raise error from exc
        self._record(request, started, "ok", result.usage, None)
        return result

    async def _open_stream(self, request: ChatRequest) -> tuple[AsyncIterator[ChatChunk], ChatChunk | None, float]:
        started = time.perf_counter()
        chunks = self.inner.stream(request)
        try:
            with self._breaker.calling():
                try:
                    attributes = _span_attributes(self.name, request.model or self.model)
                    with telemetry.span("provider.chat.stream", **attributes):
                        first = await with_timeout(_next(chunks), self._cfg.timeout_s, self.name)
                finally:
                    add_upstream_time(time.perf_counter() - started)
        except BaseException as exc:
            await _close(chunks)
            if isinstance(exc, pybreaker.CircuitBreakerError):
                error: UpstreamError = CircuitOpenError(self.name, self._reset_timeout_s)
                self._record(request, started, error.outcome, Usage(), str(error))
                raise error from exc
            if isinstance(exc, UpstreamError):
                self._record(request, started, exc.outcome, Usage(), str(exc))
            elif isinstance(exc, Exception):
                error = UpstreamError(f"{self.name} failed unexpectedly: {exc!r}", retryable=False)
                self._record(request, started, "error", Usage(), str(error))
                raise error from exc
            raise
        return chunks, first, started

    def _record(self, request: ChatRequest, started: float, outcome: str, usage: Usage, error: str | None) -> None:
        if self._recorder is None:
            return
        self._recorder.record(
            CallRecord(
                provider=self.name,
                model=request.model or self.model,
                operation="chat",
                outcome=outcome,
                latency_ms=(time.perf_counter() - started) * 1000,
                tokens_in=usage.tokens_in,
                tokens_out=usage.tokens_out,
                cost_usd=cost_usd(
                    usage.tokens_in, usage.tokens_out, self._cfg.input_cost_per_mtok, self._cfg.output_cost_per_mtok
                ),
                error=error,
                workspace_id=request.workspace_id,
            )
        )


def _span_attributes(provider: str, model: str | None) -> dict[str, Any]:
    return {"gen_ai.system": provider, "gen_ai.request.model": model}


async def _next(chunks: AsyncIterator[ChatChunk]) -> ChatChunk | None:
    """The next chunk, or None at the end (StopAsyncIteration cannot cross a task boundary)."""
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return None


async def _close(chunks: AsyncIterator[ChatChunk]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception as exc:
            log.debug("provider_stream_close_failed", error=str(exc))
