"""A small hierarchy of errors a caller can catch by meaning; each maps to one HTTP status."""

from __future__ import annotations

from typing import Any


class OpsdeskError(Exception):
    """Base of every error opsdesk raises on purpose."""

    status_code = 500
    error_type = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.error_type
        self.details = details


class InvalidInput(OpsdeskError):
    status_code = 400
    error_type = "invalid_request_error"


class NotAuthenticated(OpsdeskError):
    status_code = 401
    error_type = "authentication_error"


class PermissionDenied(OpsdeskError):
    status_code = 403
    error_type = "permission_error"


class NotFound(OpsdeskError):
    status_code = 404
    error_type = "not_found_error"


class Conflict(OpsdeskError):
    status_code = 409
    error_type = "conflict_error"


class PayloadTooLarge(OpsdeskError):
    status_code = 413
    error_type = "payload_too_large"


class RateLimited(OpsdeskError):
    status_code = 429
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ProviderError(OpsdeskError):
    """An upstream model provider failed after retries and fallbacks."""

    status_code = 502
    error_type = "provider_error"


class ProviderUnavailable(ProviderError):
    status_code = 503
    error_type = "provider_unavailable"


class ConfigurationError(OpsdeskError):
    """The configuration cannot work; raised at start with what to change."""

    error_type = "configuration_error"


class ServiceUnavailable(OpsdeskError):
    """A dependency (the database) cannot be reached right now; the client should retry after `retry_after_s`."""

    status_code = 503
    error_type = "service_unavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after_s: int = 2) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


# SQLSTATEs that mean "no usable connection": class 08 (connection exception), the server shutting down or starting
# up (57P01-57P03), too many connections (53300).
_UNAVAILABLE_SQLSTATES = ("57P01", "57P02", "57P03", "53300")
_DRIVER_MODULES = ("asyncpg", "psycopg", "psycopg_pool", "sqlalchemy")


def is_database_unreachable(exc: BaseException) -> bool:
    """True when `exc`, or an error that caused it, says the database server could not be reached or the connection
    to it was lost (as opposed to a query the server refused)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        if _connection_level(current):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def _connection_level(exc: BaseException) -> bool:
    if getattr(exc, "connection_invalidated", False):  # SQLAlchemy saw a disconnect
        return True
    module = type(exc).__module__
    name = type(exc).__name__
    if module.startswith("sqlalchemy") and name == "TimeoutError":  # the pool had no connection to give
        return True
    if module.startswith("psycopg_pool") and name in ("PoolTimeout", "TooManyRequests"):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES):
        return True
    if module.startswith("asyncpg") and name in ("ConnectionDoesNotExistError", "ConnectionFailureError"):
        return True
    if module.startswith("psycopg") and name == "OperationalError" and sqlstate is None:  # connect failed
        return True
    # Refused, reset, timed out, socket missing: an OSError is the database's only when a driver raised it.
    return isinstance(exc, OSError) and _raised_in_driver(exc)


def _raised_in_driver(exc: BaseException) -> bool:
    trace = exc.__traceback__
    while trace is not None:
        if str(trace.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVER_MODULES):
            return True
        trace = trace.tb_next
    return False
