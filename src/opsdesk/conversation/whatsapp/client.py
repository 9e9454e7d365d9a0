"""WhatsApp Cloud API's send-message endpoint over httpx: a timeout, the one retry policy, a breaker, metrics.

There is no official Meta SDK for Python; the endpoint is one POST:
`{graph_base}/{version}/{phone_number_id}/messages` with the number's access token as a bearer token. Throttling
(HTTP 429, or Graph's rate-limit codes under any status), 5xx answers, timeouts and connection failures are retried
with backoff; other 4xx answers (a bad token, a recipient outside the 24-hour window) are final.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pybreaker
from prometheus_client import Counter, Histogram

from opsdesk.core.logging import get_logger
from opsdesk.core.masking import mask_text
from opsdesk.providers.llm.base import UpstreamError
from opsdesk.providers.resilience import CircuitOpenError, RetryTiming, retry_policy, with_timeout

log = get_logger(__name__)
MAX_TEXT = 4096  # WhatsApp's limit on a text message body
# Graph error codes that mean "slow down" or "try again" whatever the HTTP status: API and app throttling,
# Cloud API throughput, pair rate limit, unknown and temporary errors, service unavailable.
RETRYABLE_CODES = frozenset({1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 131016, 131056, 133004})

GRAPH_CALLS = Counter(
    "opsdesk_whatsapp_graph_calls_total", "WhatsApp Cloud API send-message calls by outcome.", ["outcome"]
)
GRAPH_LATENCY = Histogram("opsdesk_whatsapp_graph_call_seconds", "WhatsApp Cloud API send-message call latency.")


@dataclass(frozen=True)
class GraphTarget:
    """Where and as whom to send: one connected number."""

    base_url: str
    api_version: str
    phone_number_id: str
    access_token: str = field(repr=False)

    @property
    def messages_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.api_version}/{self.phone_number_id}/messages"


@dataclass(frozen=True)
class SendPolicy:
    """Per-attempt timeout, retries inside one send, and the breaker; tests shrink the waits."""

    timeout_s: float = 10.0
    max_retries: int = 3
    timing: RetryTiming = field(default_factory=RetryTiming)
    breaker_fail_max: int = 5
    breaker_reset_s: float = 30.0


class GraphError(UpstreamError):
    """The Graph API refused or failed a send; `code` is Graph's error code when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable, status=status, retry_after_s=retry_after_s)
        self.code = code


def send_body(to: str, text: str) -> dict[str, Any]:
    """The send-message request for one text reply."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": text},
    }


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """The reply in parts WhatsApp accepts, cut at line breaks (or spaces) where possible."""
    parts: list[str] = []
    rest = text.strip() or "…"
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [part for part in parts if part]


class _BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        log.warning("whatsapp_breaker_state", graph=cb.name, old=getattr(old_state, "name", None), new=new_state.name)


def _not_a_graph_fault(exc: BaseException) -> bool:
    return isinstance(exc, UpstreamError) and not exc.retryable


class GraphClient:
    """Sends text messages; one instance per process (it holds the connection pool and a breaker per Graph host)."""

    def __init__(self, policy: SendPolicy = SendPolicy(), *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.policy = policy
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(policy.timeout_s, connect=min(policy.timeout_s, 5.0)),
            follow_redirects=False,  # a redirect would carry the bearer token somewhere else
            transport=transport,
            headers={"User-Agent": "opsdesk-whatsapp/1"},
        )
        self._breakers: dict[str, pybreaker.CircuitBreaker] = {}

    async def send_text(self, target: GraphTarget, to: str, text: str) -> str:
        """Sends one text message; returns WhatsApp's id of it (wamid…). Raises GraphError after the retries."""
        message_id = ""
        async for attempt in retry_policy(self.policy.max_retries, self.policy.timing):
            with attempt:
                message_id = await self._send_once(target, to, text)
        return message_id

    async def aclose(self) -> None:
        await self._http.aclose()

    def _breaker(self, base_url: str) -> pybreaker.CircuitBreaker:
        breaker = self._breakers.get(base_url)
        if breaker is None:
            breaker = self._breakers[base_url] = pybreaker.CircuitBreaker(
                fail_max=self.policy.breaker_fail_max,
                reset_timeout=self.policy.breaker_reset_s,
                exclude=[_not_a_graph_fault],
                listeners=[_BreakerLog()],
                name=base_url,
                throw_new_error_on_trip=False,
            )
        return breaker

    async def _send_once(self, target: GraphTarget, to: str, text: str) -> str:
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {target.access_token}", "Content-Type": "application/json"}
        try:
            with self._breaker(target.base_url).calling():
                response = await with_timeout(
                    self._http.post(target.messages_url, content=orjson.dumps(send_body(to, text)), headers=headers),
                    self.policy.timeout_s,
                    "WhatsApp Cloud API",
                )
                message_id = _message_id(response)
        except pybreaker.CircuitBreakerError as exc:
            GRAPH_CALLS.labels("breaker_open").inc()
            raise CircuitOpenError("WhatsApp Cloud API", self.policy.breaker_reset_s) from exc
        except UpstreamError as exc:
            GRAPH_CALLS.labels(_outcome(exc)).inc()
            log.warning("whatsapp_send_attempt_failed", to=mask_text(to), error=str(exc), retryable=exc.retryable)
            raise
        except httpx.HTTPError as exc:
            GRAPH_CALLS.labels("unreachable").inc()
            log.warning("whatsapp_send_attempt_failed", to=mask_text(to), error=type(exc).__name__, retryable=True)
            raise GraphError(f"WhatsApp Cloud API unreachable ({type(exc).__name__})", retryable=True) from exc
        finally:
            GRAPH_LATENCY.observe(time.perf_counter() - started)
        GRAPH_CALLS.labels("ok").inc()
        return message_id


def _outcome(exc: UpstreamError) -> str:
    if exc.status is None:
        return exc.outcome  # timeout | error
    if exc.retryable:
        return "rate_limited" if exc.status == 429 or (isinstance(exc, GraphError) and exc.code == 130429) else "error"
    return "rejected"


def _message_id(response: httpx.Response) -> str:
    """WhatsApp's id of the sent message, or the GraphError the response describes."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        messages = body.get("messages") if isinstance(body, dict) else None
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            return str(messages[0].get("id") or "")
        log.warning("whatsapp_send_without_id", status=response.status_code)
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    message = str(error.get("message") or response.reason_phrase or "no message")[:500]
    status = response.status_code
    retryable = status == 429 or status >= 500 or code in RETRYABLE_CODES
    detail = f"code {code}" + (f"/{error['error_subcode']}" if error.get("error_subcode") else "") if code else ""
    trace = f", fbtrace_id {error['fbtrace_id']}" if error.get("fbtrace_id") else ""
    raise GraphError(
        f"WhatsApp Cloud API answered {status}{' ' + detail if detail else ''}: {message}{trace}",
        retryable=retryable,
        status=status,
        code=code,
        retry_after_s=_retry_after(response) if retryable else None,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
