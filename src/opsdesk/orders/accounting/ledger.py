"""The local ledger: an invoice becomes one balanced double-entry posting, stored through a repository.

``invoice_posting`` is pure (receivable debit = revenue credits + tax credit). ``LocalLedger`` is the default
AccountingBackend: it hands postings to a ``LedgerStore`` the order flow provides (a PostgreSQL table with a unique
reference), so posting the same reference twice keeps the first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from opsdesk.core.logging import get_logger
from opsdesk.orders.accounting.base import AccountingRejected, AccountingUnavailable, PostedInvoice
from opsdesk.orders.documents.model import ContactData, InvoiceData

log = get_logger(__name__)
_POSTING_NAMESPACE = uuid.UUID("6f0e8a52-3c1d-4b7e-9a0f-2d5c8e4b1a77")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class LedgerAccount:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class LedgerAccounts:
    """The chart-of-accounts codes an invoice posts to."""

    receivable: LedgerAccount = LedgerAccount("1100", "Accounts receivable")
    revenue: LedgerAccount = LedgerAccount("4000", "Sales revenue")
    tax_payable: LedgerAccount = LedgerAccount("2200", "GST payable")


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One side of a posting: exactly one of ``debit`` and ``credit`` is non-zero."""

    account: LedgerAccount
    debit: Decimal
    credit: Decimal
    description: str


@dataclass(frozen=True, slots=True)
class LedgerPosting:
    """The journal for one invoice, identified by its reference."""

    posting_id: str
    reference: str
    invoice_number: str
    contact_name: str
    posted_on: date
    currency: str
    entries: tuple[LedgerEntry, ...]

    @property
    def total_debit(self) -> Decimal:
        return sum((entry.debit for entry in self.entries), ZERO)

    @property
    def total_credit(self) -> Decimal:
        return sum((entry.credit for entry in self.entries), ZERO)

    @property
    def balanced(self) -> bool:
        return self.total_debit == self.total_credit

    def balance(self, account_code: str) -> Decimal:
        """Debits minus credits on one account."""
        return sum((e.debit - e.credit for e in self.entries if e.account.code == account_code), ZERO)


def posting_id(reference: str) -> str:
    """The same reference always gets the same posting id (so a retried posting is recognisable)."""
    return str(uuid.uuid5(_POSTING_NAMESPACE, reference))


def invoice_posting(
    invoice: InvoiceData, contact: ContactData | None = None, accounts: LedgerAccounts = LedgerAccounts()
) -> LedgerPosting:
    """Dr receivable (total); Cr revenue (each line's amount); Cr tax payable (the invoice tax). Zero amounts are
    left out, so a free line adds nothing."""
    customer = (contact or invoice.bill_to).name
    entries = [LedgerEntry(accounts.receivable, invoice.total, ZERO, f"{invoice.number} {customer}")]
    for line in invoice.lines:
        if line.line_total:
            label = f"{invoice.number} {line.sku} {line.description}".strip()
            entries.append(LedgerEntry(accounts.revenue, ZERO, line.line_total, label))
    if invoice.tax:
        label = f"{invoice.number} {invoice.tax_label} {invoice.tax_percent}"
        entries.append(LedgerEntry(accounts.tax_payable, ZERO, invoice.tax, label))
    posting = LedgerPosting(
        posting_id=posting_id(invoice.reference),
        reference=invoice.reference,
        invoice_number=invoice.number,
        contact_name=customer,
        posted_on=invoice.issue_date,
        currency=invoice.currency,
        entries=tuple(entries),
    )
    if not posting.balanced:  # cannot happen while total = subtotal + tax; guard against future edits
        raise AccountingRejected(f"{invoice.number}: the ledger posting does not balance")
    return posting


class LedgerStore(Protocol):
    """Where postings live (the order flow's repository)."""

    async def add(self, posting: LedgerPosting) -> tuple[LedgerPosting, bool]:
        """Stores ``posting`` unless one with its reference exists (insert … on conflict do nothing).

        Returns the stored posting and whether it was added now.
        """
        ...


class LocalLedger:
    """The default AccountingBackend: postings in opsdesk's own ledger, idempotent by invoice reference."""

    name = "local"

    def __init__(self, store: LedgerStore, accounts: LedgerAccounts = LedgerAccounts()) -> None:
        self._store = store
        self._accounts = accounts

    async def post_invoice(self, invoice: InvoiceData, contact: ContactData) -> PostedInvoice:
        """Stores the invoice's posting once; a repeat returns the first posting."""
        posting = invoice_posting(invoice, contact, self._accounts)
        try:
            stored, added = await self._store.add(posting)
        except Exception as exc:
            raise AccountingUnavailable(f"the ledger could not store {invoice.number}: {exc}") from exc
        if not added and stored.total_debit != posting.total_debit:
            log.warning(
                "ledger_reference_reused",
                reference=invoice.reference,
                stored_total=str(stored.total_debit),
                new_total=str(posting.total_debit),
            )
        return PostedInvoice(
            external_id=stored.posting_id, status="POSTED", number=stored.invoice_number, created=added
        )
