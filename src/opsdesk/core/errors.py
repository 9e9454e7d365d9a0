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
