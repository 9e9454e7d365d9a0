"""Order-desk fixtures: documents to render and a fake Xero on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsdesk.orders.accounting import XeroBackend, XeroConfig, XeroToken
from opsdesk.orders.documents import (
    ContactData,
    DeliveryLine,
    DeliveryOrderData,
    InvoiceData,
    InvoiceLine,
    SellerData,
)
from opsdesk.providers.resilience import RetryTiming
from tests.fakes.xero_server import FakeXero
from tests.orders.order_helpers import Desk, open_desk

SELLER = SellerData(
    name="Lion City Packaging Pte Ltd",
    address_lines=("8 Tuas Avenue 3", "Singapore 639407"),
    registration_number="201912345K",
    tax_registration="M90-1234567-8",
    email="accounts@lioncity.example",
    phone="+65 6000 1234",
    payment_instructions="Bank transfer to DBS 012-345678-9, or PayNow UEN 201912345K.",
)
BILL_TO = ContactData(
    name="Slice Republic Pte Ltd",
    address_lines=("12 Marina Boulevard #01-05", "Singapore 018982"),
    email="ap@slicerepublic.example",
    account_number="SR-MB",
)


def make_delivery(
    number: str = "DO-20250303-00001", day: date = date(2025, 3, 3), **overrides: Any
) -> DeliveryOrderData:
    values: dict[str, Any] = {
        "number": number,
        "delivery_date": day,
        "outlet_name": "Slice Republic Marina Bay",
        "billing_entity": "Slice Republic Pte Ltd",
        "delivery_address": "12 Marina Boulevard #01-05, Singapore 018982",
        "lines": (
            DeliveryLine("PB-10R", '10" Regular Pizza Box', 6, "bundle", 6),
            DeliveryLine("LN-10", '10" Pizza Liner', 2, "pack", 1),
        ),
        "slot": "09:00-12:00",
        "remark": "Use the loading bay",
        "order_reference": "ORD-1001",
    }
    values.update(overrides)
    return DeliveryOrderData(**values)


def make_invoice(number: str = "INV-20250303-00001", **overrides: Any) -> InvoiceData:
    values: dict[str, Any] = {
        "number": number,
        "issue_date": date(2025, 3, 3),
        "bill_to": BILL_TO,
        "lines": (
            InvoiceLine("PB-10R", '10" Regular Pizza Box', Decimal(6), Decimal("28.00"), "bundle"),
            InvoiceLine("PB-12R", '12" Regular Pizza Box', Decimal(4), Decimal("34.00"), "bundle"),
        ),
        "delivery_order_number": "DO-20250303-00001",
    }
    values.update(overrides)
    return InvoiceData(**values)


@pytest.fixture(scope="session")
def xero_server() -> Iterator[FakeXero]:
    server = FakeXero()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_xero(xero_server: FakeXero) -> FakeXero:
    xero_server.reset()
    return xero_server


def xero_config(server: FakeXero, **overrides: Any) -> XeroConfig:
    """Fast settings for tests: short timeouts, tiny backoff, a breaker that trips after one failed posting."""
    values: dict[str, Any] = {
        "tenant_id": server.tenant_id,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "api_url": server.api_url,
        "token_url": server.token_url,
        "timeout_s": 2.0,
        "max_retries": 2,
        "breaker_fail_max": 3,
        "breaker_reset_s": 30.0,
        "timing": RetryTiming(base_wait_s=0.01, max_wait_s=0.05, retry_after_cap_s=5.0),
    }
    values.update(overrides)
    return XeroConfig(**values)


@dataclass
class SavedTokens:
    tokens: list[XeroToken] = field(default_factory=list)

    async def __call__(self, token: XeroToken) -> None:
        self.tokens.append(token)


@pytest.fixture
def saved_tokens() -> SavedTokens:
    return SavedTokens()


@pytest.fixture
async def xero(fake_xero: FakeXero, saved_tokens: SavedTokens) -> AsyncIterator[XeroBackend]:
    backend = XeroBackend(
        xero_config(fake_xero), XeroToken.from_dict(fake_xero.issue_token()), on_token_refreshed=saved_tokens
    )
    yield backend
    await backend.aclose()


@pytest.fixture
async def desk(database_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    """A context with the demo catalog in a fresh workspace (test files with other settings override it)."""
    async with open_desk(database_url, tmp_path) as opened:
        yield opened


@pytest.fixture
async def http(desk: Desk) -> AsyncIterator[httpx.AsyncClient]:
    async with desk.client() as client:
        yield client
