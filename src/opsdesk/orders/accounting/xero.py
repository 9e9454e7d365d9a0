"""Xero through the official xero-python SDK: find or create the contact, create the invoice once per reference,
authorise it. Around every call: a client-side rate limit, a timeout, token refresh, retries and a breaker.

The SDK is synchronous; calls run on a small thread pool of their own so a slow Xero cannot starve the app's.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import pybreaker
from prometheus_client import Counter, Gauge, Histogram
from xero_python.accounting import (
    AccountingApi,
    Address,
    Contact,
    Contacts,
    CurrencyCode,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    Phone,
)
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token

from opsdesk.core.logging import get_logger
from opsdesk.orders.accounting.base import (
    AccountingNotConnected,
    AccountingRejected,
    AccountingUnavailable,
    PostedInvoice,
)
from opsdesk.orders.accounting.limiter import CallLimiter
from opsdesk.orders.accounting.xero_auth import TokenSaver, XeroConfig, XeroToken
from opsdesk.orders.accounting.xero_errors import (
    Unauthorised,
    counts_against_breaker,
    first_item,
    outcome_of,
    translate,
)
from opsdesk.orders.documents.model import ContactData, InvoiceData
from opsdesk.providers.llm.base import UpstreamError
from opsdesk.providers.resilience import retry_policy

log = get_logger(__name__)
T = TypeVar("T")

CALLS = Counter(
    "opsdesk_accounting_calls_total", "Accounting API calls by operation and outcome.", ["operation", "outcome"]
)
LATENCY = Histogram("opsdesk_accounting_call_seconds", "Accounting API call latency.", ["operation"])
BREAKER_OPEN = Gauge("opsdesk_accounting_breaker_open", "1 while the Xero circuit breaker is open.")
_POSTED = frozenset({"AUTHORISED", "PAID"})
_AWAITING_APPROVAL = frozenset({"DRAFT", "SUBMITTED"})
_FOUR_PLACES = Decimal("0.0001")


class _BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        BREAKER_OPEN.set(1 if new_state.name == pybreaker.STATE_OPEN else 0)
        log.warning("xero_breaker_state", old=getattr(old_state, "name", None), new=new_state.name)


class XeroBackend:
    """An AccountingBackend posting to one Xero organisation; idempotent by invoice reference."""

    name = "xero"

    def __init__(
        self,
        config: XeroConfig,
        token: XeroToken,
        *,
        on_token_refreshed: TokenSaver | None = None,
        limiter: CallLimiter | None = None,
    ) -> None:
        self._cfg = config
        self._token = token
        self._on_token = on_token_refreshed
        self._limiter = limiter or CallLimiter(
            config.calls_per_minute, 60.0, max_concurrent=config.max_concurrent_calls
        )
        self._executor = ThreadPoolExecutor(config.max_concurrent_calls + 1, thread_name_prefix="xero")
        self._refresh_lock = asyncio.Lock()
        # One posting per reference at a time in this process (across processes the flow's job queue serialises).
        self._posting: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._contacts: dict[str, str] = {}
        self._http_timeout = (min(config.timeout_s, 10.0), config.timeout_s)
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=config.breaker_fail_max,
            reset_timeout=config.breaker_reset_s,
            exclude=[lambda exc: not counts_against_breaker(exc)],
            listeners=[_BreakerLog()],
            name="xero",
            throw_new_error_on_trip=False,
        )
        # Configuration() returns a copy of a process-wide default, so its token is set afterwards, not passed in.
        configuration = Configuration()
        configuration.oauth2_token = OAuth2Token()
        self._client = ApiClient(
            configuration,
            pool_threads=1,
            oauth2_token_getter=lambda: self._token.sdk_dict(),
            oauth2_token_saver=lambda _token: None,
        )
        # Retries are ours (paced and counted); urllib3 must not retry behind our back.
        self._client.rest_client.pool_manager.connection_pool_kw["retries"] = False
        self._api = AccountingApi(self._client, base_url=config.api_url.rstrip("/"))

    @property
    def token(self) -> XeroToken:
        """The current token (after any refresh)."""
        return self._token

    @property
    def breaker_state(self) -> str:
        """ "closed", "open" or "half-open"."""
        return str(self._breaker.current_state)

    async def post_invoice(self, invoice: InvoiceData, contact: ContactData) -> PostedInvoice:
        """Creates and authorises the invoice, or returns the one Xero already has for ``invoice.reference``."""
        _check_amounts(invoice)
        posted: PostedInvoice | None = None
        lock = self._posting.setdefault(invoice.reference, asyncio.Lock())
        try:
            async with lock:
                async for attempt in retry_policy(self._cfg.max_retries, self._cfg.timing):
                    with attempt:
                        posted = await self._post_once(invoice, contact)
        except UpstreamError as exc:
            raise AccountingUnavailable(f"Xero: {exc}", retry_after_s=exc.retry_after_s) from exc
        assert posted is not None  # AsyncRetrying either ran the block to success or re-raised
        log.info(
            "xero_invoice_posted", reference=invoice.reference, invoice_id=posted.external_id, created=posted.created
        )
        return posted

    async def find_invoice(self, reference: str) -> PostedInvoice | None:
        """What Xero holds for ``reference`` (for reconciliation), without changing anything."""
        try:
            found = await self._find_invoice(reference)
        except UpstreamError as exc:
            raise AccountingUnavailable(f"Xero: {exc}", retry_after_s=exc.retry_after_s) from exc
        return None if found is None else self._posted(found, created=False)

    async def aclose(self) -> None:
        """Releases the thread pool and connections."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.rest_client.pool_manager.clear()

    async def _post_once(self, invoice: InvoiceData, contact: ContactData) -> PostedInvoice:
        existing = await self._find_invoice(invoice.reference)
        if existing is not None:
            return await self._approve(existing, invoice.reference, created=False)
        contact_id = await self._contact_id(contact)
        model = self._invoice_model(invoice, contact_id)
        key = _idempotency_key("invoice", invoice.reference, json.dumps(invoice.to_dict(), sort_keys=True), contact_id)
        tenant = self._cfg.tenant_id
        try:
            created = await self._call(
                "create_invoice",
                lambda api: api.create_invoices(
                    tenant,
                    Invoices(invoices=[model]),
                    unitdp=4,
                    idempotency_key=key,
                    _request_timeout=self._http_timeout,
                ),
            )
        except AccountingRejected:
            self._contacts.pop(contact.name.casefold(), None)  # the cached contact may be archived or merged
            raise
        return await self._approve(first_item(created.invoices, "invoice"), invoice.reference, created=True)

    async def _approve(self, found: Any, reference: str, *, created: bool) -> PostedInvoice:
        status = str(found.status)
        if status in _POSTED:
            return self._posted(found, created=created)
        if status not in _AWAITING_APPROVAL:
            raise AccountingRejected(
                f"Xero already has a {status} invoice with reference {reference}; not posting again"
            )
        invoice_id = found.invoice_id
        tenant = self._cfg.tenant_id
        update = Invoices(invoices=[Invoice(invoice_id=invoice_id, status="AUTHORISED")])
        updated = await self._call(
            "authorise_invoice",
            lambda api: api.update_invoice(tenant, invoice_id, update, _request_timeout=self._http_timeout),
        )
        return self._posted(first_item(updated.invoices, "invoice"), created=created)

    async def _find_invoice(self, reference: str) -> Any | None:
        where = f'Type=="ACCREC" AND Reference=="{_quote(reference)}"'
        tenant = self._cfg.tenant_id
        found = await self._call(
            "find_invoice", lambda api: api.get_invoices(tenant, where=where, _request_timeout=self._http_timeout)
        )
        matches = [item for item in (found.invoices or []) if item.reference == reference]
        live = [item for item in matches if item.status not in ("DELETED", "VOIDED")]
        return (live or matches or [None])[0]

    async def _contact_id(self, contact: ContactData) -> str:
        key = contact.name.casefold()
        if key in self._contacts:
            return self._contacts[key]
        found = await self._find_contact(contact.name)
        if found is None:
            model = _contact_model(contact)
            tenant = self._cfg.tenant_id
            idempotency = _idempotency_key("contact", contact.name)
            try:
                created = await self._call(
                    "create_contact",
                    lambda api: api.create_contacts(
                        tenant,
                        Contacts(contacts=[model]),
                        idempotency_key=idempotency,
                        _request_timeout=self._http_timeout,
                    ),
                )
                found = first_item(created.contacts, "contact")
            except AccountingRejected:
                # Names are unique in Xero: someone may have created this contact since we looked.
                found = await self._find_contact(contact.name)
                if found is None:
                    raise
        if len(self._contacts) > 1000:
            self._contacts.clear()
        self._contacts[key] = str(found.contact_id)
        return self._contacts[key]

    async def _find_contact(self, name: str) -> Any | None:
        where = f'Name=="{_quote(name)}"'
        tenant = self._cfg.tenant_id
        found = await self._call(
            "find_contact", lambda api: api.get_contacts(tenant, where=where, _request_timeout=self._http_timeout)
        )
        matches = [c for c in (found.contacts or []) if (c.name or "").casefold() == name.casefold()]
        active = [c for c in matches if c.contact_status in (None, "ACTIVE")]
        return (active or matches or [None])[0]

    def _invoice_model(self, invoice: InvoiceData, contact_id: str) -> Any:
        items = [
            LineItem(
                description=f"{line.description} ({line.sku})" if line.sku else line.description,
                quantity=line.quantity,
                unit_amount=line.unit_price,
                line_amount=line.line_total,
                tax_amount=tax,  # our invoice-level rounding, spread over lines, so Xero's totals equal the PDF's
                tax_type=self._cfg.tax_type,
                account_code=self._cfg.sales_account_code,
                item_code=line.sku if self._cfg.send_item_codes else None,
            )
            for line, tax in zip(invoice.lines, invoice.line_taxes(), strict=True)
        ]
        try:
            currency = CurrencyCode(invoice.currency)
        except ValueError as exc:
            raise AccountingRejected(f"Xero does not know the currency {invoice.currency}") from exc
        return Invoice(
            type="ACCREC",
            contact=Contact(contact_id=contact_id),
            line_items=items,
            date=invoice.issue_date,
            due_date=invoice.due_date,
            line_amount_types=LineAmountTypes.EXCLUSIVE,
            invoice_number=invoice.number,
            reference=invoice.reference,
            currency_code=currency,
            status="DRAFT",
        )

    def _posted(self, found: Any, *, created: bool) -> PostedInvoice:
        invoice_id = str(found.invoice_id)
        return PostedInvoice(
            external_id=invoice_id,
            status=str(found.status),
            url=self._cfg.invoice_url.format(invoice_id=invoice_id) or None,
            number=found.invoice_number,
            created=created,
        )

    async def _call(self, operation: str, call: Callable[[Any], T]) -> T:
        """One API call with a fresh token; a 401 refreshes the token once and tries again."""
        if self._token.expires_within(self._cfg.token_refresh_margin_s):
            await self._refresh(self._token.access_token)
        used = self._token.access_token
        try:
            return await self._guarded(operation, call)
        except Unauthorised:
            await self._refresh(used)
        try:
            return await self._guarded(operation, call)
        except Unauthorised as exc:
            raise AccountingNotConnected("Xero refuses even a refreshed access token; reconnect Xero") from exc

    async def _guarded(self, operation: str, call: Callable[[Any], T]) -> T:
        """Paced by the limiter, behind the breaker, in a thread with a deadline; errors translated."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            async with self._limiter:
                try:
                    with self._breaker.calling():
                        return await self._run(call, self._api)
                except pybreaker.CircuitBreakerError as exc:
                    reset = self._cfg.breaker_reset_s
                    message = f"its circuit breaker is open after repeated failures (retry in about {reset:g}s)"
                    raise UpstreamError(message, retryable=False, retry_after_s=reset) from exc
        except BaseException as exc:
            outcome = outcome_of(exc)
            if isinstance(exc, UpstreamError) and exc.status == 429 and exc.retry_after_s:
                self._limiter.hold_off(exc.retry_after_s)
            raise
        finally:
            CALLS.labels(operation, outcome).inc()
            LATENCY.labels(operation).observe(time.perf_counter() - started)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        deadline = self._cfg.timeout_s * 2 + 1  # urllib3's connect + read timeouts normally end the call first
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._executor, functools.partial(function, *args)), deadline
            )
        except Exception as exc:
            raise translate(exc, self._cfg.timeout_s) from exc

    async def _refresh(self, stale_access_token: str) -> None:
        async with self._refresh_lock:
            if self._token.access_token != stale_access_token:
                return  # another call refreshed it while we waited
            try:
                answer = await self._run(self._request_token, self._token.refresh_token)
            except (AccountingRejected, Unauthorised) as exc:  # invalid_grant, invalid_client
                raise AccountingNotConnected(f"Xero refused the refresh token ({exc}); reconnect Xero") from exc
            answer.setdefault("refresh_token", self._token.refresh_token)
            answer.setdefault("scope", list(self._token.scope))
            self._token = XeroToken.from_dict(answer)
            log.info("xero_token_refreshed", expires_at=self._token.expires_at)
            if self._on_token is not None:
                try:
                    await self._on_token(self._token)
                except Exception as exc:  # the refresh worked; losing the save only matters after a restart
                    log.error("xero_token_save_failed", error=f"{type(exc).__name__}: {exc}")

    def _request_token(self, refresh_token: str) -> dict[str, Any]:
        response = self._client.call_api(
            self._cfg.token_url,
            "POST",
            header_params={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
            post_params=[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", self._cfg.client_id),
                ("client_secret", self._cfg.client_secret),
            ],
            auth_settings=None,
            _return_http_data_only=True,
            _preload_content=False,
            _request_timeout=self._http_timeout,
        )
        answer: dict[str, Any] = json.loads(response.data)
        return answer


def _contact_model(contact: ContactData) -> Any:
    lines = list(contact.address_lines)
    if len(lines) > 4:
        lines = [*lines[:3], ", ".join(lines[3:])]
    address = Address(address_type="POBOX", **{f"address_line{i}": text for i, text in enumerate(lines, start=1)})
    return Contact(
        name=contact.name,
        email_address=contact.email or None,
        account_number=contact.account_number or None,
        tax_number=contact.tax_number or None,
        addresses=[address] if lines else None,
        phones=[Phone(phone_type="DEFAULT", phone_number=contact.phone)] if contact.phone else None,
    )


def _check_amounts(invoice: InvoiceData) -> None:
    for line in invoice.lines:
        if line.unit_price != line.unit_price.quantize(_FOUR_PLACES):
            raise AccountingRejected(f"{line.sku}: Xero keeps at most 4 decimal places of a unit price")


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _idempotency_key(*parts: str) -> str:
    return "opsdesk-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:48]
