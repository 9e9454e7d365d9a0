"""How Xero's answers and failures become ours: retryable UpstreamError, AccountingRejected, or a 401 signal."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

import pybreaker
import urllib3
from xero_python.exceptions import AccessTokenExpiredError, ApiException

from opsdesk.orders.accounting.base import AccountingError, AccountingNotConnected, AccountingRejected
from opsdesk.providers.llm.base import UpstreamError


class Unauthorised(Exception):
    """Xero answered 401: the access token is not (or no longer) accepted."""


def counts_against_breaker(exc: BaseException) -> bool:
    # Only signs that Xero itself is unwell (5xx, timeouts, no connection) trip the breaker; 4xx and 429 do not.
    return isinstance(exc, UpstreamError) and exc.retryable and exc.status != 429


def translate(exc: BaseException, timeout_s: float) -> BaseException:
    """SDK and urllib3 failures as ours: retryable UpstreamError, AccountingRejected, or a 401 signal."""
    if isinstance(exc, UpstreamError | AccountingError | Unauthorised):
        return exc
    if isinstance(exc, AccessTokenExpiredError):
        return Unauthorised(str(exc))
    if isinstance(exc, ApiException):
        http = getattr(exc, "http_resp", None)
        status = getattr(http, "status", None)
        body = getattr(http, "data", b"") or b""
        headers = exc.headers or {}
        if status == 401:
            return Unauthorised(_messages(body)[0])
        if status == 403:
            return AccountingNotConnected(f"Xero refused access to the organisation: {_messages(body)[0]}")
        if status == 429:
            problem = headers.get("X-Rate-Limit-Problem") or "minute"
            return UpstreamError(
                f"rate limit ({problem}) reached", retryable=True, status=429, retry_after_s=_retry_after(headers)
            )
        if status is None or status >= 500 or status in (0, 408):
            return UpstreamError(f"answered {status}: {_messages(body)[0][:200]}", retryable=True, status=status)
        messages = _messages(body)
        return AccountingRejected("; ".join(messages), messages=messages)
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return UpstreamError(f"could not connect: {exc}", retryable=True)
    if isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError):
        return UpstreamError(f"timed out after {timeout_s:g}s", retryable=True)
    if isinstance(exc, urllib3.exceptions.HTTPError):
        return UpstreamError(f"connection failed: {exc}", retryable=True)
    return UpstreamError(f"call failed unexpectedly: {exc!r}", retryable=False)


def _messages(body: bytes) -> tuple[str, ...]:
    """Xero's own words: validation messages, else Message/Detail/error, else the raw body."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip()
        return (text[:500] or "no details given",)
    if not isinstance(data, dict):
        return (str(data)[:500],)
    found = [
        str(error["Message"])
        for element in data.get("Elements") or []
        for error in element.get("ValidationErrors") or []
        if error.get("Message")
    ]
    for key in ("Message", "Detail", "error_description", "error", "Title"):
        if not found and data.get(key):
            found.append(str(data[key]))
    return tuple(found) or ("no details given",)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, UpstreamError):
        if exc.__cause__ is not None and isinstance(exc.__cause__, pybreaker.CircuitBreakerError):
            return "breaker_open"
        return exc.outcome
    if isinstance(exc, AccountingRejected):
        return "rejected"
    if isinstance(exc, Unauthorised | AccountingNotConnected):
        return "unauthorised"
    return "error"


def first_item(items: list[Any] | None, what: str) -> Any:
    """The first record of a reply; a reply without one is treated as a passing fault."""
    if not items:
        raise UpstreamError(f"answered without the {what}", retryable=True)
    return items[0]
