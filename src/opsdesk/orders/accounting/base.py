"""What every accounting backend promises: post an invoice once per reference, and fail in one of two ways."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from opsdesk.core.errors import OpsdeskError
from opsdesk.orders.documents.model import ContactData, InvoiceData


class AccountingError(OpsdeskError):
    """An accounting backend could not take the invoice."""

    status_code = 502
    error_type = "accounting_error"


class AccountingUnavailable(AccountingError):
    """The backend is down, slow, rate limited or its circuit is open: keep the invoice pending and retry later."""

    status_code = 503
    error_type = "accounting_unavailable"

    def __init__(self, message: str, *, retry_after_s: float | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


class AccountingNotConnected(AccountingUnavailable):
    """The backend refuses our credentials (refresh token revoked, tenant disconnected): a person must reconnect."""

    error_type = "accounting_not_connected"


class AccountingRejected(AccountingError):
    """The backend answered and refused this invoice; retrying the same data will not help."""

    status_code = 422
    error_type = "accounting_rejected"

    def __init__(self, reason: str, *, messages: tuple[str, ...] = ()) -> None:
        super().__init__(reason, details={"messages": list(messages)} if messages else None)
        self.reason = reason
        self.messages = messages or (reason,)


@dataclass(frozen=True, slots=True)
class PostedInvoice:
    """The invoice as the backend holds it. ``created`` is False when an earlier posting was found instead."""

    external_id: str
    status: str
    url: str | None = None
    number: str | None = None
    created: bool = True


@runtime_checkable
class AccountingBackend(Protocol):
    """Posts invoices; posting the same ``invoice.reference`` again returns the first posting, never a second."""

    name: str

    async def post_invoice(self, invoice: InvoiceData, contact: ContactData) -> PostedInvoice:
        """Posts (creates and approves) the invoice for ``contact``.

        Raises AccountingUnavailable when trying later may work, AccountingRejected when it will not.
        """
        ...
