"""Posting invoices to accounting: the local ledger by default, Xero when configured; pending ones retried later.

No database transaction is held while accounting is called. The backends are idempotent by invoice reference,
so a posting repeated after a crash, a timeout or by two workers finds the first one instead of making another.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.core.logging import get_logger
from opsdesk.orders import events
from opsdesk.orders.accounting import (
    AccountingBackend,
    AccountingNotConnected,
    AccountingRejected,
    AccountingUnavailable,
    LedgerAccount,
    LedgerEntry,
    LedgerPosting,
    LocalLedger,
    PostedInvoice,
    XeroBackend,
    XeroConfig,
    XeroToken,
)
from opsdesk.orders.documents import InvoiceData
from opsdesk.orders.models import AccountingToken, Invoice, LedgerEntryRow, LedgerPostingRow
from opsdesk.providers.resilience import RetryTiming

log = get_logger(__name__)
_XERO_KEY = "orders.xero"
_CLAIM_LEASE = timedelta(minutes=5)
_MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class PostOutcome:
    invoice_id: uuid.UUID
    number: str
    status: str  # posted | pending | failed | cancelled
    error: str | None = None


# ------------------------------------------------------------------------------------------ local ledger


class DatabaseLedger:
    """The LedgerStore of one workspace: a posting per reference, entries beside it, in its own transaction."""

    def __init__(self, ctx: AppContext, workspace_id: uuid.UUID) -> None:
        self._ctx = ctx
        self._workspace_id = workspace_id

    async def add(self, posting: LedgerPosting) -> tuple[LedgerPosting, bool]:
        async with self._ctx.db.session() as session:
            statement = insert(LedgerPostingRow).values(
                id=uuid.uuid4(),
                workspace_id=self._workspace_id,
                posting_id=posting.posting_id,
                reference=posting.reference,
                invoice_number=posting.invoice_number,
                contact_name=posting.contact_name[:200],
                posted_on=posting.posted_on,
                currency=posting.currency,
            )
            row_id = await session.scalar(
                statement.on_conflict_do_nothing(constraint="uq_ledger_postings_workspace_reference").returning(
                    LedgerPostingRow.id
                )
            )
            if row_id is not None:
                for number, entry in enumerate(posting.entries, start=1):
                    session.add(
                        LedgerEntryRow(
                            posting_id=row_id,
                            workspace_id=self._workspace_id,
                            line_no=number,
                            account_code=entry.account.code,
                            account_name=entry.account.name,
                            debit=entry.debit,
                            credit=entry.credit,
                            description=entry.description,
                        )
                    )
                return posting, True
            return await self._stored(session, posting.reference), False

    async def _stored(self, session: AsyncSession, reference: str) -> LedgerPosting:
        row = await session.scalar(
            select(LedgerPostingRow).where(
                LedgerPostingRow.workspace_id == self._workspace_id, LedgerPostingRow.reference == reference
            )
        )
        assert row is not None  # the insert conflicted on this very reference
        entries = await session.scalars(
            select(LedgerEntryRow).where(LedgerEntryRow.posting_id == row.id).order_by(LedgerEntryRow.line_no)
        )
        return LedgerPosting(
            posting_id=row.posting_id,
            reference=row.reference,
            invoice_number=row.invoice_number,
            contact_name=row.contact_name,
            posted_on=row.posted_on,
            currency=row.currency,
            entries=tuple(
                LedgerEntry(LedgerAccount(e.account_code, e.account_name), e.debit, e.credit, e.description)
                for e in entries
            ),
        )


# --------------------------------------------------------------------------------------------------- xero


def _seed_hash(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


async def _xero_backend(ctx: AppContext) -> XeroBackend:
    """The process's Xero client (one rate limiter, breaker and contact cache), built on first use."""
    existing = ctx.extras.get(_XERO_KEY)
    if isinstance(existing, XeroBackend):
        return existing
    settings = ctx.settings
    assert settings.xero_client_secret and settings.xero_refresh_token and settings.xero_tenant_id
    tenant = settings.xero_tenant_id
    seed = settings.xero_refresh_token.get_secret_value()
    config = XeroConfig(
        tenant_id=tenant,
        client_id=settings.xero_client_id or "",
        client_secret=settings.xero_client_secret.get_secret_value(),
        api_url=settings.xero_base_url,
        token_url=settings.xero_token_url,
        sales_account_code=settings.xero_account_code,
        tax_type=settings.xero_tax_type,
        timeout_s=settings.xero_timeout_s,
        max_retries=settings.xero_max_retries,
        timing=RetryTiming(
            base_wait_s=settings.xero_retry_base_s, max_wait_s=settings.xero_retry_base_s * 16, retry_after_cap_s=65.0
        ),
    )
    async with ctx.db.session() as session:
        stored = await session.get(AccountingToken, ("xero", tenant))
    if stored is not None and stored.seed_hash == _seed_hash(seed):
        token = XeroToken.from_dict(stored.token)
    else:  # first start, or a new connection configured: refresh from the configured token at the first call
        token = XeroToken(access_token="", refresh_token=seed, expires_at=0.0)

    async def save(new: XeroToken) -> None:
        async with ctx.db.session() as session:
            values = {"provider": "xero", "tenant_id": tenant, "seed_hash": _seed_hash(seed), "token": new.to_dict()}
            statement = insert(AccountingToken).values(**values, updated_at=datetime.now(UTC))
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["provider", "tenant_id"],
                    set_={"token": new.to_dict(), "updated_at": datetime.now(UTC)},
                )
            )

    backend = XeroBackend(config, token, on_token_refreshed=save)
    ctx.extras[_XERO_KEY] = backend
    return backend


async def accounting_backend(ctx: AppContext, workspace_id: uuid.UUID) -> AccountingBackend:
    """Xero when configured, else the local ledger of the workspace. Tests may put a backend in extras."""
    injected = ctx.extras.get("orders.accounting_backend")
    if injected is not None:
        backend: AccountingBackend = injected
        return backend
    if ctx.settings.xero_configured():
        return await _xero_backend(ctx)
    return LocalLedger(DatabaseLedger(ctx, workspace_id))


async def close_accounting(ctx: AppContext) -> None:
    """Releases the Xero client's threads and connections (call before ``ctx.close()``)."""
    backend = ctx.extras.pop(_XERO_KEY, None)
    if isinstance(backend, XeroBackend):
        await backend.aclose()


# ------------------------------------------------------------------------------------------------ posting


def _backoff(attempts: int, base_s: float, retry_after_s: float | None) -> timedelta:
    delay = min(timedelta(seconds=base_s * 2 ** max(0, attempts - 1)), _MAX_BACKOFF)
    return max(delay, timedelta(seconds=retry_after_s or 0))


async def post_invoice(
    ctx: AppContext,
    invoice_id: uuid.UUID,
    *,
    now: datetime | None = None,
    after_call: Callable[[], Awaitable[None]] | None = None,
) -> PostOutcome:
    """Posts one invoice unless it is posted or cancelled already; a failure leaves it pending (or failed).

    ``after_call`` runs between the accounting call and recording its outcome (a test hook for crashes there).
    """
    async with ctx.db.session() as session:
        invoice = await session.get(Invoice, invoice_id)
        if invoice is None:
            raise LookupError(f"no invoice {invoice_id}")
        if invoice.status in ("posted", "cancelled"):
            return PostOutcome(invoice.id, invoice.number, invoice.status)
        data = InvoiceData.from_dict(invoice.data)
        workspace_id = invoice.workspace_id
    backend = await accounting_backend(ctx, workspace_id)
    posted: PostedInvoice | None = None
    error: AccountingUnavailable | AccountingRejected | None = None
    try:
        try:
            posted = await backend.post_invoice(data, data.bill_to)
        except AccountingNotConnected:
            if not isinstance(backend, XeroBackend):
                raise
            # Another process may have rotated the refresh token: start again from the latest one stored.
            await close_accounting(ctx)
            backend = await accounting_backend(ctx, workspace_id)
            posted = await backend.post_invoice(data, data.bill_to)
    except (AccountingUnavailable, AccountingRejected) as exc:
        error = exc
    if after_call is not None:
        await after_call()
    return await _record(ctx, invoice_id, backend.name, posted, error, now or datetime.now(UTC))


async def _record(
    ctx: AppContext,
    invoice_id: uuid.UUID,
    backend: str,
    posted: PostedInvoice | None,
    error: AccountingUnavailable | AccountingRejected | None,
    now: datetime,
) -> PostOutcome:
    async with ctx.db.session() as session:
        invoice = await session.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
        assert invoice is not None
        invoice.attempts += 1
        invoice.backend = backend
        if posted is not None:
            cancelled, already_posted = invoice.status == "cancelled", invoice.status == "posted"
            invoice.status, invoice.external_id, invoice.external_url = "posted", posted.external_id, posted.url
            invoice.posted_at, invoice.next_attempt_at, invoice.last_error = now, None, None
            if cancelled:  # the order was cancelled while we were posting: it is posted all the same
                invoice.last_error = "the order was cancelled while posting: issue a credit note"
            log.info("invoice_posted", invoice=invoice.number, backend=backend, external_id=posted.external_id)
            if not already_posted:
                await events.invoice_posted(session, invoice)
        elif isinstance(error, AccountingRejected):
            invoice.status, invoice.last_error, invoice.next_attempt_at = "failed", str(error)[:2000], None
            log.error("invoice_rejected", invoice=invoice.number, backend=backend, error=str(error))
        elif error is not None:
            invoice.last_error = str(error)[:2000]
            if invoice.status == "pending":
                base = ctx.settings.order_invoice_retry_s
                invoice.next_attempt_at = now + _backoff(invoice.attempts, base, error.retry_after_s)
            log.warning("invoice_pending", invoice=invoice.number, backend=backend, error=str(error))
        return PostOutcome(invoice.id, invoice.number, invoice.status, invoice.last_error)


async def retry_pending_invoices(
    ctx: AppContext,
    *,
    workspace_id: uuid.UUID | None = None,
    limit: int = 50,
    force: bool = False,
    include_failed: bool = False,
    now: datetime | None = None,
) -> list[PostOutcome]:
    """Posts pending invoices whose retry time has come (all of them with ``force``); returns each outcome.

    Claimed rows get a short lease first, so several workers share the queue without posting one invoice twice.
    """
    moment = now or datetime.now(UTC)
    statuses = ["pending", "failed"] if include_failed else ["pending"]
    async with ctx.db.session() as session:
        statement = select(Invoice).where(Invoice.status.in_(statuses))
        if workspace_id is not None:
            statement = statement.where(Invoice.workspace_id == workspace_id)
        if not force:
            statement = statement.where(or_(Invoice.next_attempt_at.is_(None), Invoice.next_attempt_at <= moment))
        claimed = list(
            await session.scalars(
                statement.order_by(Invoice.next_attempt_at.asc().nulls_first())
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for invoice in claimed:
            invoice.next_attempt_at = moment + _CLAIM_LEASE
            if invoice.status == "failed":
                invoice.status = "pending"
        ids = [invoice.id for invoice in claimed]
    return [await post_invoice(ctx, invoice_id, now=now) for invoice_id in ids]
