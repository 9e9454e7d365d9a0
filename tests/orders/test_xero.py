"""XeroBackend against a fake Xero speaking the documented Accounting API over real HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from decimal import Decimal

import pytest

from opsdesk.orders.accounting import (
    AccountingBackend,
    AccountingNotConnected,
    AccountingRejected,
    AccountingUnavailable,
    CallLimiter,
    XeroBackend,
    XeroToken,
)
from opsdesk.orders.documents import InvoiceLine
from tests.fakes.scripted import Behaviour
from tests.fakes.xero_server import FakeXero, ms_date
from tests.orders.conftest import BILL_TO, SavedTokens, make_invoice, xero_config


async def test_posting_creates_the_contact_and_an_authorised_invoice(xero: XeroBackend, fake_xero: FakeXero) -> None:
    invoice = make_invoice()

    posted = await xero.post_invoice(invoice, BILL_TO)

    assert isinstance(xero, AccountingBackend)
    assert posted.status == "AUTHORISED" and posted.created
    assert posted.number == invoice.number
    assert posted.url is not None and posted.external_id in posted.url
    [contact] = fake_xero.contacts.values()
    assert contact["Name"] == "Slice Republic Pte Ltd"
    assert contact["EmailAddress"] == "ap@slicerepublic.example"
    [held] = fake_xero.invoices_with_reference(invoice.reference)
    assert held["InvoiceID"] == posted.external_id
    assert held["Status"] == "AUTHORISED"
    assert held["Type"] == "ACCREC" and held["LineAmountTypes"] == "Exclusive"
    assert held["Contact"]["ContactID"] == contact["ContactID"]
    assert held["InvoiceNumber"] == "INV-20250303-00001"
    assert ms_date(held["Date"]) == date(2025, 3, 3)
    assert ms_date(held["DueDate"]) == date(2025, 4, 2)  # Net 30
    assert [(line["Quantity"], line["UnitAmount"], line["LineAmount"]) for line in held["LineItems"]] == [
        (Decimal(6), Decimal("28.00"), Decimal("168.00")),
        (Decimal(4), Decimal("34.00"), Decimal("136.00")),
    ]
    assert {line["TaxType"] for line in held["LineItems"]} == {"OUTPUT"}
    assert {line["AccountCode"] for line in held["LineItems"]} == {"200"}
    assert (held["SubTotal"], held["TotalTax"], held["Total"]) == (invoice.subtotal, invoice.tax, invoice.total)


async def test_an_existing_contact_is_used_not_created_again(xero: XeroBackend, fake_xero: FakeXero) -> None:
    existing = fake_xero.add_contact("Slice Republic Pte Ltd")

    await xero.post_invoice(make_invoice(), BILL_TO)

    assert len(fake_xero.contacts) == 1
    [held] = fake_xero.invoices.values()
    assert held["Contact"]["ContactID"] == existing["ContactID"]
    assert not [r for r in fake_xero.requests if r.endpoint == "contacts" and r.headers[":method"] != "GET"]


async def test_posting_the_same_reference_twice_creates_one_invoice(xero: XeroBackend, fake_xero: FakeXero) -> None:
    first = await xero.post_invoice(make_invoice(), BILL_TO)
    again = await xero.post_invoice(make_invoice(), BILL_TO)

    assert len(fake_xero.invoices_with_reference("INV-20250303-00001")) == 1
    assert again.external_id == first.external_id
    assert again.status == "AUTHORISED" and not again.created


async def test_concurrent_postings_of_one_reference_create_one_invoice(xero: XeroBackend, fake_xero: FakeXero) -> None:
    results = await asyncio.gather(*(xero.post_invoice(make_invoice(), BILL_TO) for _ in range(3)))

    assert len(fake_xero.invoices) == 1 and len(fake_xero.contacts) == 1
    assert {posted.external_id for posted in results} == set(fake_xero.invoices)
    assert sorted(posted.created for posted in results) == [False, False, True]


async def test_a_draft_left_by_a_failed_approval_is_approved_not_duplicated(
    xero: XeroBackend, fake_xero: FakeXero
) -> None:
    fake_xero.script(["500"] * 3, "invoice")  # every approval attempt fails
    with pytest.raises(AccountingUnavailable):
        await xero.post_invoice(make_invoice(), BILL_TO)
    [draft] = fake_xero.invoices.values()
    assert draft["Status"] == "DRAFT"

    posted = await xero.post_invoice(make_invoice(), BILL_TO)

    [held] = fake_xero.invoices.values()
    assert held["Status"] == "AUTHORISED" and held["InvoiceID"] == posted.external_id


async def test_tax_amounts_follow_the_invoice_rounding(xero: XeroBackend, fake_xero: FakeXero) -> None:
    invoice = make_invoice(
        lines=(
            InvoiceLine("CUP-8", "8oz paper cup", Decimal(3), Decimal("0.335"), "pcs"),
            InvoiceLine("LID-8", "8oz lid", Decimal(7), Decimal("0.115"), "pcs"),
        )
    )

    await xero.post_invoice(invoice, BILL_TO)

    [held] = fake_xero.invoices.values()
    assert [line["UnitAmount"] for line in held["LineItems"]] == [Decimal("0.335"), Decimal("0.115")]
    assert held["SubTotal"] == invoice.subtotal == Decimal("1.82")  # 1.01 + 0.81, each rounded half up
    assert held["TotalTax"] == invoice.tax == Decimal("0.15")
    assert held["Total"] == invoice.total


async def test_an_expired_access_token_is_refreshed_once_and_handed_to_the_callback(
    xero: XeroBackend, fake_xero: FakeXero, saved_tokens: SavedTokens
) -> None:
    old = xero.token
    fake_xero.expire(old.access_token)

    await xero.post_invoice(make_invoice(), BILL_TO)

    assert fake_xero.count("token") == 1
    [saved] = saved_tokens.tokens
    assert saved == xero.token
    assert saved.access_token != old.access_token and saved.refresh_token != old.refresh_token
    assert fake_xero.last("token").body["refresh_token"] == old.refresh_token
    assert len(fake_xero.invoices) == 1


async def test_a_token_past_its_expiry_is_refreshed_before_the_first_call(
    fake_xero: FakeXero, saved_tokens: SavedTokens
) -> None:
    stale = XeroToken.from_dict({**fake_xero.issue_token(), "expires_at": time.time() - 5})
    backend = XeroBackend(xero_config(fake_xero), stale, on_token_refreshed=saved_tokens)
    try:
        await backend.post_invoice(make_invoice(), BILL_TO)
    finally:
        await backend.aclose()

    [saved] = saved_tokens.tokens
    api_calls = [r for r in fake_xero.requests if r.endpoint != "token"]
    assert {r.headers["authorization"] for r in api_calls} == {f"Bearer {saved.access_token}"}


async def test_a_revoked_refresh_token_means_not_connected(xero: XeroBackend, fake_xero: FakeXero) -> None:
    fake_xero.expire(xero.token.access_token)
    fake_xero.refresh_tokens.clear()

    with pytest.raises(AccountingNotConnected, match="reconnect Xero"):
        await xero.post_invoice(make_invoice(), BILL_TO)

    assert not fake_xero.invoices


async def test_wrong_client_credentials_mean_not_connected(fake_xero: FakeXero) -> None:
    token = XeroToken.from_dict(fake_xero.issue_token())
    fake_xero.expire(token.access_token)
    backend = XeroBackend(xero_config(fake_xero, client_secret="wrong"), token)
    try:
        with pytest.raises(AccountingNotConnected, match="invalid_client"):
            await backend.post_invoice(make_invoice(), BILL_TO)
    finally:
        await backend.aclose()


async def test_a_second_401_after_refreshing_is_not_retried_again(xero: XeroBackend, fake_xero: FakeXero) -> None:
    fake_xero.script(["401", "401"], "invoices")

    with pytest.raises(AccountingNotConnected, match="refreshed access token"):
        await xero.post_invoice(make_invoice(), BILL_TO)

    assert fake_xero.count("token") == 1
    assert fake_xero.count("invoices") == 2


async def test_a_429_retry_after_is_waited_out(xero: XeroBackend, fake_xero: FakeXero) -> None:
    fake_xero.script(["429:1"], "invoices")
    started = time.monotonic()

    posted = await xero.post_invoice(make_invoice(), BILL_TO)

    assert time.monotonic() - started >= 0.95
    assert posted.status == "AUTHORISED"
    assert len(fake_xero.invoices) == 1
    assert xero.breaker_state == "closed"


async def test_calls_are_paced_by_the_client_side_limit(fake_xero: FakeXero) -> None:
    limiter = CallLimiter(2, period_s=0.4)
    backend = XeroBackend(xero_config(fake_xero), XeroToken.from_dict(fake_xero.issue_token()), limiter=limiter)
    started = time.monotonic()
    try:
        await backend.post_invoice(make_invoice(), BILL_TO)  # 5 calls: find, find contact, create both, approve
    finally:
        await backend.aclose()

    assert fake_xero.api_requests() == 5
    assert time.monotonic() - started >= 0.8  # two full windows waited


async def test_the_limiter_allows_no_more_than_its_calls_in_a_window() -> None:
    limiter = CallLimiter(3, period_s=0.3, max_concurrent=2)
    starts: list[float] = []

    async def call() -> None:
        async with limiter:
            starts.append(time.monotonic())
            await asyncio.sleep(0.01)

    await asyncio.gather(*(call() for _ in range(7)))

    for index in range(3, len(starts)):
        assert starts[index] - starts[index - 3] >= 0.29


async def test_a_500_storm_fails_after_retries_and_opens_the_breaker(xero: XeroBackend, fake_xero: FakeXero) -> None:
    fake_xero.storm("500")

    with pytest.raises(AccountingUnavailable) as failure:
        await xero.post_invoice(make_invoice(), BILL_TO)

    assert "500" in str(failure.value)
    assert fake_xero.api_requests() == 3  # the first try and two retries
    assert xero.breaker_state == "open"
    started = time.monotonic()
    with pytest.raises(AccountingUnavailable, match="circuit breaker is open") as fast:
        await xero.post_invoice(make_invoice("INV-20250303-00002"), BILL_TO)
    assert time.monotonic() - started < 0.5
    assert fast.value.retry_after_s == 30.0
    assert fake_xero.api_requests() == 3  # refused without reaching the server


async def test_after_an_outage_the_invoice_is_posted_once(fake_xero: FakeXero) -> None:
    config = xero_config(fake_xero, breaker_reset_s=0.3)
    backend = XeroBackend(config, XeroToken.from_dict(fake_xero.issue_token()))
    try:
        fake_xero.script(["503"] * 3, "invoices")  # every attempt of the first posting
        with pytest.raises(AccountingUnavailable):
            await backend.post_invoice(make_invoice(), BILL_TO)
        await asyncio.sleep(0.35)  # the breaker lets a trial call through

        posted = await backend.post_invoice(make_invoice(), BILL_TO)
    finally:
        await backend.aclose()

    assert posted.created and backend.breaker_state == "closed"
    assert len(fake_xero.invoices_with_reference("INV-20250303-00001")) == 1


async def test_a_timeout_is_unavailable(fake_xero: FakeXero) -> None:
    backend = XeroBackend(
        xero_config(fake_xero, timeout_s=0.3, breaker_fail_max=10), XeroToken.from_dict(fake_xero.issue_token())
    )
    fake_xero.script(["delay:3"] * 3, "invoices")
    started = time.monotonic()
    try:
        with pytest.raises(AccountingUnavailable, match="timed out"):
            await backend.post_invoice(make_invoice(), BILL_TO)
    finally:
        await backend.aclose()

    assert time.monotonic() - started < 2.5
    assert fake_xero.count("invoices") == 3
    assert not fake_xero.invoices


async def test_a_validation_error_is_rejected_with_xeros_message(fake_xero: FakeXero) -> None:
    backend = XeroBackend(
        xero_config(fake_xero, sales_account_code="999"), XeroToken.from_dict(fake_xero.issue_token())
    )
    try:
        with pytest.raises(AccountingRejected) as rejected:
            await backend.post_invoice(make_invoice(), BILL_TO)
    finally:
        await backend.aclose()

    assert "Account code '999' is not a valid code for this document." in rejected.value.reason
    creates = [r for r in fake_xero.requests if r.endpoint == "invoices" and r.headers[":method"] == "PUT"]
    assert len(creates) == 1  # a refusal is not retried
    assert backend.breaker_state == "closed"


async def test_a_scripted_400_carries_its_message(xero: XeroBackend, fake_xero: FakeXero) -> None:
    fake_xero.add_contact("Slice Republic Pte Ltd")
    fake_xero.script(["ok", Behaviour(status=400, text="Invoice # must be unique.")], "invoices")  # look-up, create

    with pytest.raises(AccountingRejected, match="Invoice # must be unique"):
        await xero.post_invoice(make_invoice(), BILL_TO)
