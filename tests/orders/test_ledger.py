"""The local ledger: balanced postings from invoices, stored once per reference."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opsdesk.orders.accounting import (
    AccountingBackend,
    AccountingUnavailable,
    LedgerAccounts,
    LedgerPosting,
    LocalLedger,
    invoice_posting,
    posting_id,
)
from opsdesk.orders.documents import InvoiceLine
from tests.orders.conftest import BILL_TO, make_invoice

ACCOUNTS = LedgerAccounts()


class MemoryStore:
    """The LedgerStore contract the order flow's table fulfils: insert unless the reference exists."""

    def __init__(self) -> None:
        self.postings: dict[str, LedgerPosting] = {}
        self.broken = False

    async def add(self, posting: LedgerPosting) -> tuple[LedgerPosting, bool]:
        if self.broken:
            raise ConnectionError("database is down")
        if posting.reference in self.postings:
            return self.postings[posting.reference], False
        self.postings[posting.reference] = posting
        return posting, True


def test_an_invoice_posts_receivable_against_revenue_and_gst() -> None:
    invoice = make_invoice()  # 6 x 28.00 + 4 x 34.00 = 304.00, GST 24.32

    posting = invoice_posting(invoice, BILL_TO)

    assert posting.balanced
    assert posting.balance(ACCOUNTS.receivable.code) == Decimal("328.32")
    assert posting.balance(ACCOUNTS.revenue.code) == Decimal("-304.00")
    assert posting.balance(ACCOUNTS.tax_payable.code) == Decimal("-24.32")
    assert [(e.account.code, e.debit, e.credit) for e in posting.entries] == [
        ("1100", Decimal("328.32"), Decimal("0.00")),
        ("4000", Decimal("0.00"), Decimal("168.00")),
        ("4000", Decimal("0.00"), Decimal("136.00")),
        ("2200", Decimal("0.00"), Decimal("24.32")),
    ]
    assert posting.posting_id == posting_id(invoice.reference)
    assert (posting.currency, posting.posted_on, posting.contact_name) == ("SGD", invoice.issue_date, BILL_TO.name)


def test_rounding_cases_still_balance_and_free_lines_add_nothing() -> None:
    invoice = make_invoice(
        lines=(
            InvoiceLine("CUP-8", "8oz paper cup", Decimal(3), Decimal("0.335")),
            InvoiceLine("LN-10", "free liners", Decimal(5), Decimal("0")),
        )
    )

    posting = invoice_posting(invoice)

    assert posting.balanced
    assert posting.total_debit == Decimal("1.09")
    assert len(posting.entries) == 3  # receivable, one revenue line, GST


def test_a_zero_rated_invoice_has_no_tax_entry() -> None:
    posting = invoice_posting(make_invoice(tax_rate=Decimal(0)))

    assert ACCOUNTS.tax_payable.code not in {e.account.code for e in posting.entries}
    assert posting.balanced


async def test_the_local_ledger_posts_a_reference_once() -> None:
    store = MemoryStore()
    ledger = LocalLedger(store)

    first = await ledger.post_invoice(make_invoice(), BILL_TO)
    again = await ledger.post_invoice(make_invoice(), BILL_TO)

    assert isinstance(ledger, AccountingBackend)
    assert first.created and not again.created
    assert first.external_id == again.external_id == posting_id("INV-20250303-00001")
    assert first.status == "POSTED" and first.number == "INV-20250303-00001"
    assert len(store.postings) == 1


async def test_a_store_failure_is_unavailable_so_the_invoice_stays_pending() -> None:
    store = MemoryStore()
    store.broken = True

    with pytest.raises(AccountingUnavailable, match="database is down"):
        await LocalLedger(store).post_invoice(make_invoice(), BILL_TO)
