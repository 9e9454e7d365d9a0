"""What the Jira, Confluence and GitLab connectors share: errors, credentials, and the guard around SDK calls.

The vendors' SDKs are synchronous (requests). Each guarded call runs in a worker thread with the SDK's own HTTP
timeout and an outer deadline, paced by a small client-side rate limit, behind a circuit breaker, and retried by
opsdesk's one retry policy (exponential backoff with jitter, Retry-After honoured up to a cap). The SDKs' own
retries are switched off so that only this policy decides. A vendor's 4xx answer is the caller's problem: it is
not retried and never opens the breaker.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pybreaker
import requests
from prometheus_client import Counter, Gauge, Histogram
from pydantic import SecretStr

from opsdesk.core.errors import OpsdeskError
from opsdesk.core.logging import get_logger
from opsdesk.providers.llm.base import UpstreamError
from opsdesk.providers.resilience import RetryTiming, retry_policy

log = get_logger(__name__)
T = TypeVar("T")

VENDORS = ("jira", "confluence", "gitlab")

CALLS = Counter(
    "opsdesk_crew_vendor_calls_total", "Crew calls to Jira, Confluence, GitLab.", ["vendor", "operation", "outcome"]
)
LATENCY = Histogram("opsdesk_crew_vendor_call_seconds", "Crew vendor call latency (one attempt).", ["vendor"])
BREAKER_OPEN = Gauge("opsdesk_crew_vendor_breaker_open", "1 while a crew vendor's circuit breaker is open.", ["vendor"])


class VendorError(OpsdeskError):
    """Base of what a connector raises; ``vendor`` names the system."""

    def __init__(self, vendor: str, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.vendor = vendor


class VendorUnavailable(VendorError):
    """The vendor could not be reached, timed out, kept failing or is rate limiting; trying later may work."""

    status_code = 503
    error_type = "vendor_unavailable"

    def __init__(self, vendor: str, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(vendor, message)
        self.retry_after_s = retry_after_s


class VendorRejected(VendorError):
    """The vendor refused the request (bad input, missing permission, unknown project); the message is the vendor's."""

    status_code = 422
    error_type = "vendor_rejected"

    def __init__(self, vendor: str, message: str, *, status: int | None = None) -> None:
        super().__init__(vendor, message)
        self.status = status


class VendorConflict(VendorRejected):
    """The vendor holds a newer version than the one the change was based on (Confluence's 409)."""

    status_code = 409
    error_type = "vendor_conflict"


@dataclass(frozen=True)
class VendorCredentials:
    """Where a vendor is and how to sign in: a username or email with an API token, or a token alone (bearer)."""

    vendor: str
    base_url: str
    token: SecretStr
    username: str | None = None

    def __repr__(self) -> str:  # never show the token, even in a debugger or a traceback's locals
        return f"VendorCredentials(vendor={self.vendor!r}, base_url={self.base_url!r}, username={self.username!r})"


_DEFAULT_TIMING = RetryTiming(base_wait_s=1.0, max_wait_s=20.0, retry_after_cap_s=60.0)


@dataclass(frozen=True)
class ConnectorPolicy:
    """Timeouts, retries, breaker and pace of one connector; tests shrink the waits."""

    timeout_s: float = 20.0
    max_retries: int = 3
    timing: RetryTiming = _DEFAULT_TIMING
    breaker_fail_max: int = 5
    breaker_reset_s: float = 60.0
    calls_per_second: float = 10.0
    max_concurrent: int = 4


def idempotency_tag(key: str) -> str:
    """A short, label-safe mark for an idempotency key (run id + artefact): ``opsdesk-<16 hex>``."""
    return "opsdesk-" + hashlib.sha256(key.encode()).hexdigest()[:16]


class _Pace:
    """At most ``max_concurrent`` calls at once, starts spaced by ``1 / per_second``; ``hold`` pauses all starts."""

    def __init__(self, per_second: float, max_concurrent: int) -> None:
        self._gap = 1.0 / per_second if per_second > 0 else 0.0
        self._slots = asyncio.Semaphore(max_concurrent)
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    def hold(self, seconds: float) -> None:
        self._next_start = max(self._next_start, time.monotonic() + seconds)

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        try:
            async with self._lock:
                wait = self._next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = max(self._next_start, time.monotonic()) + self._gap
        except BaseException:
            self._slots.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


class ResponseWatch:
    """Remembers, per thread, the Retry-After of the last failed response a requests session received."""

    def __init__(self) -> None:
        self._local = threading.local()

    def install(self, session: requests.Session) -> None:
        """Adds the response hook to an SDK's session."""
        session.hooks.setdefault("response", []).append(self._seen)

    def reset(self) -> None:
        self._local.retry_after = None

    @property
    def retry_after_s(self) -> float | None:
        value: float | None = getattr(self._local, "retry_after", None)
        return value

    def _seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.status_code >= 400:
            self._local.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return response


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (only the delta-seconds form; a date is ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


class _BreakerGauge(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        BREAKER_OPEN.labels(cb.name or "?").set(1 if new_state.name == pybreaker.STATE_OPEN else 0)
        log.warning("crew_vendor_breaker", vendor=cb.name, old=getattr(old_state, "name", None), new=new_state.name)


class VendorGuard:
    """Runs one connector's SDK calls: thread, deadline, pace, breaker, retries, and errors by meaning."""

    def __init__(
        self,
        vendor: str,
        policy: ConnectorPolicy,
        describe: Callable[[BaseException], tuple[int | None, str]],
    ) -> None:
        self.vendor = vendor
        self.policy = policy
        self.watch = ResponseWatch()
        self._describe = describe
        self._pace = _Pace(policy.calls_per_second, policy.max_concurrent)
        # Threads of its own: a vendor that hangs cannot take the threads the rest of the app runs on.
        self._threads = ThreadPoolExecutor(policy.max_concurrent + 1, thread_name_prefix=f"crew-{vendor}")
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=policy.breaker_fail_max,
            reset_timeout=policy.breaker_reset_s,
            # A refusal proves the vendor is up; a caller giving up says nothing about it.
            exclude=[lambda exc: isinstance(exc, VendorRejected | asyncio.CancelledError)],
            listeners=[_BreakerGauge()],
            name=vendor,
            throw_new_error_on_trip=False,
        )

    def close(self) -> None:
        """Lets the worker threads go (calls still running finish on their own HTTP timeout)."""
        self._threads.shutdown(wait=False, cancel_futures=True)

    @property
    def breaker_state(self) -> str:
        """ "closed", "open" or "half-open"."""
        return str(self._breaker.current_state)

    async def call(self, operation: str, work: Callable[[], T]) -> T:
        """Runs ``work`` (SDK calls) with retries; raises VendorUnavailable or VendorRejected, never an SDK error."""
        try:
            async for attempt in retry_policy(self.policy.max_retries, self.policy.timing):
                with attempt:
                    return await self._once(operation, work)
        except UpstreamError as exc:
            raise VendorUnavailable(
                self.vendor, f"{self.vendor} {operation}: {exc}", retry_after_s=exc.retry_after_s
            ) from exc
        raise AssertionError("unreachable: the retry loop returns or raises")  # pragma: no cover

    async def _once(self, operation: str, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            async with self._pace:
                try:
                    with self._breaker.calling():
                        return await self._in_thread(work)
                except pybreaker.CircuitBreakerError as exc:
                    reset = self.policy.breaker_reset_s
                    message = f"its circuit breaker is open after repeated failures (retry in about {reset:g}s)"
                    raise UpstreamError(message, retryable=False, retry_after_s=reset) from exc
        except UpstreamError as exc:
            outcome = exc.outcome
            if exc.status == 429 and exc.retry_after_s:
                self._pace.hold(exc.retry_after_s)
            raise
        except VendorRejected:
            outcome = "rejected"
            raise
        finally:
            elapsed = time.perf_counter() - started
            CALLS.labels(self.vendor, operation, outcome).inc()
            LATENCY.labels(self.vendor).observe(elapsed)
            log.info(
                "crew_vendor_call",
                vendor=self.vendor,
                operation=operation,
                outcome=outcome,
                ms=round(elapsed * 1000, 1),
            )

    async def _in_thread(self, work: Callable[[], T]) -> T:
        def run() -> T:
            self.watch.reset()
            try:
                return work()
            except (VendorRejected, UpstreamError):
                raise
            except Exception as exc:
                raise self._translate(exc) from exc

        # The SDK's HTTP timeout normally ends a call first; the deadline covers a call of several requests.
        deadline = self.policy.timeout_s * 3 + 1
        try:
            loop = asyncio.get_running_loop()
            return await asyncio.wait_for(loop.run_in_executor(self._threads, functools.partial(run)), deadline)
        except TimeoutError as exc:
            raise UpstreamError(f"timed out after {deadline:g}s", retryable=True) from exc

    def _translate(self, exc: Exception) -> Exception:
        if isinstance(exc, requests.Timeout):
            return UpstreamError(f"timed out after {self.policy.timeout_s:g}s", retryable=True)
        if isinstance(exc, requests.ConnectionError):
            return UpstreamError("could not be reached (connection failed)", retryable=True)
        status, message = self._describe(exc)
        message = " ".join((message or type(exc).__name__).split())[:500]
        if status is None:  # not an HTTP answer and not the network: the SDK refused or broke; trying again won't help
            return UpstreamError(f"failed: {type(exc).__name__}: {message}", retryable=False)
        if status == 429 or status >= 500:
            return UpstreamError(
                f"answered {status}: {message}", retryable=True, status=status, retry_after_s=self.watch.retry_after_s
            )
        if status == 409:
            return VendorConflict(self.vendor, f"{self.vendor} refused the change ({status}): {message}", status=status)
        if status in (401, 403):
            return VendorRejected(
                self.vendor, f"{self.vendor} refused the credentials or permission ({status}): {message}", status=status
            )
        return VendorRejected(self.vendor, f"{self.vendor} refused the request ({status}): {message}", status=status)
