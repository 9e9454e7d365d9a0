"""Accounting for the order desk: the backend protocol, the local ledger (default) and Xero."""

from opsdesk.orders.accounting.base import (
    AccountingBackend,
    AccountingError,
    AccountingNotConnected,
    AccountingRejected,
    AccountingUnavailable,
    PostedInvoice,
)
from opsdesk.orders.accounting.ledger import (
    LedgerAccount,
    LedgerAccounts,
    LedgerEntry,
    LedgerPosting,
    LedgerStore,
    LocalLedger,
    invoice_posting,
    posting_id,
)
from opsdesk.orders.accounting.limiter import CallLimiter
from opsdesk.orders.accounting.xero import XeroBackend
from opsdesk.orders.accounting.xero_auth import TokenSaver, XeroConfig, XeroToken
from opsdesk.orders.documents.model import ContactData

__all__ = [
    "AccountingBackend",
    "AccountingError",
    "AccountingNotConnected",
    "AccountingRejected",
    "AccountingUnavailable",
    "CallLimiter",
    "ContactData",
    "LedgerAccount",
    "LedgerAccounts",
    "LedgerEntry",
    "LedgerPosting",
    "LedgerStore",
    "LocalLedger",
    "PostedInvoice",
    "TokenSaver",
    "XeroBackend",
    "XeroConfig",
    "XeroToken",
    "invoice_posting",
    "posting_id",
]
