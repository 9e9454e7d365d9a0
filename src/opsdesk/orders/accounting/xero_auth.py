"""Xero's configuration and OAuth2 token: what the backend needs, what it hands back to be persisted."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsdesk.providers.resilience import RetryTiming

XERO_API_URL = "https://api.xero.com/api.xro/2.0"
XERO_TOKEN_URL = "https://identity.xero.com/connect/token"
XERO_INVOICE_URL = "https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"


@dataclass(frozen=True, slots=True)
class XeroConfig:
    """One Xero organisation (tenant) and how to talk to it. Tests point the URLs at a local server."""

    tenant_id: str
    client_id: str
    client_secret: str
    api_url: str = XERO_API_URL
    token_url: str = XERO_TOKEN_URL
    invoice_url: str = XERO_INVOICE_URL  # "{invoice_id}" is filled in; "" for none
    sales_account_code: str = "200"
    tax_type: str = "OUTPUT"
    send_item_codes: bool = False  # only when every SKU exists as an Item in Xero
    timeout_s: float = 20.0
    max_retries: int = 3
    calls_per_minute: int = 60
    max_concurrent_calls: int = 5
    breaker_fail_max: int = 5
    breaker_reset_s: float = 60.0
    token_refresh_margin_s: float = 60.0
    timing: RetryTiming = field(
        default_factory=lambda: RetryTiming(base_wait_s=1.0, max_wait_s=16.0, retry_after_cap_s=65.0)
    )

    def __post_init__(self) -> None:
        missing = [name for name in ("tenant_id", "client_id", "client_secret") if not getattr(self, name)]
        if missing:
            raise ValueError(f"Xero needs {', '.join(missing)}")
        if self.timeout_s <= 0 or self.max_retries < 0 or self.calls_per_minute < 1:
            raise ValueError("Xero timeout, retries and call rate must be positive")


@dataclass(frozen=True, slots=True)
class XeroToken:
    """An OAuth2 token set. Xero rotates refresh tokens: persist every refreshed token, the old one stops working."""

    access_token: str
    refresh_token: str
    expires_at: float  # epoch seconds
    scope: tuple[str, ...] = ()
    token_type: str = "Bearer"
    id_token: str | None = None

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        return self.expires_at - seconds <= (time.time() if now is None else now)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for whoever stores it."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "scope": list(self.scope),
            "token_type": self.token_type,
            "id_token": self.id_token,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, now: float | None = None) -> XeroToken:
        """Reads ``to_dict`` output or a token endpoint answer (``expires_in`` counts from ``now``)."""
        if "expires_at" in data and data["expires_at"] is not None:
            expires_at = float(data["expires_at"])
        else:
            expires_at = (time.time() if now is None else now) + float(data.get("expires_in") or 1800)
        scope = data.get("scope") or ()
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            expires_at=expires_at,
            scope=tuple(scope.split() if isinstance(scope, str) else scope),
            token_type=str(data.get("token_type") or "Bearer"),
            id_token=data.get("id_token"),
        )

    def sdk_dict(self) -> dict[str, Any]:
        """The shape xero-python's OAuth2Token takes. No expiry: the backend refreshes, the SDK must not try."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "scope": list(self.scope),
            "expires_in": None,
            "expires_at": None,
            "token_type": self.token_type,
            "id_token": self.id_token,
        }


TokenSaver = Callable[[XeroToken], Awaitable[None]]
