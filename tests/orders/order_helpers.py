"""Helpers for the order flow tests: a seeded workspace on its own app context, row counts, sample messages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.orders.chat.runtime import close_order_flow
from opsdesk.orders.demo import seed_catalog
from opsdesk.orders.models import DeliveryOrder, Invoice, Order
from tests.conftest import Tenant, make_settings, make_tenant
from tests.fakes.xero_server import FakeXero

TAMPINES_PHONE = "+65 9123 4502"
FORM_ORDER = (
    "🍕 ORDER FORM 🍕\n"
    "Outlet: Slice Republic Tampines\n"
    '📦 10" Regular Box (100/bundle): 600\n'
    '📦 12" Regular Box (100/bundle): 4 bundles\n'
    "▪️ Liners (100/pack): 3 pack\n"
    "Thank you!"
)
# 6 x 28.00 + 4 x 34.00 + 3 x 6.50 = 168.00 + 136.00 + 19.50 = 323.50; GST 8% = 25.88; total 349.38
FORM_SUBTOTAL, FORM_TAX, FORM_TOTAL = "323.50", "25.88", "349.38"


@dataclass
class Desk:
    ctx: AppContext
    workspace_id: uuid.UUID
    tenant: Tenant

    def client(self) -> httpx.AsyncClient:
        """An HTTP client for the app on this context (the caller closes it)."""
        transport = httpx.ASGITransport(app=create_app(self.ctx.settings, context=self.ctx))
        return httpx.AsyncClient(transport=transport, base_url="http://opsdesk.test", timeout=60)

    def url(self, path: str) -> str:
        return f"/api/v1/workspaces/{self.tenant.slug}{path}"


def xero_settings(server: FakeXero, **overrides: Any) -> dict[str, Any]:
    """Settings that send invoices to the fake Xero, failing fast."""
    values: dict[str, Any] = {
        "xero_client_id": server.client_id,
        "xero_client_secret": SecretStr(server.client_secret),
        "xero_tenant_id": server.tenant_id,
        "xero_refresh_token": SecretStr(server.issue_token()["refresh_token"]),
        "xero_base_url": server.api_url,
        "xero_token_url": server.token_url,
        "xero_timeout_s": 1.0,
        "xero_max_retries": 1,
        "xero_retry_base_s": 0.01,
    }
    values.update(overrides)
    return values


@asynccontextmanager
async def open_desk(database_url: str, data_dir: Path, slug: str = "acme", **overrides: Any) -> AsyncIterator[Desk]:
    """A context with the demo catalog seeded in a fresh workspace; the flow's pool is closed afterwards."""
    ctx = await AppContext.open(make_settings(database_url, data_dir, **overrides), migrate=False)
    try:
        tenant = await make_tenant(ctx, slug)
        async with ctx.db.session() as session:
            await seed_catalog(session, tenant.workspace_id)
        yield Desk(ctx, tenant.workspace_id, tenant)
    finally:
        await close_order_flow(ctx)
        await ctx.close()


async def add_tenant(ctx: AppContext, slug: str) -> Tenant:
    """Another seeded workspace on the same context."""
    tenant = await make_tenant(ctx, slug)
    async with ctx.db.session() as session:
        await seed_catalog(session, tenant.workspace_id)
    return tenant


async def counts(ctx: AppContext, workspace_id: uuid.UUID | None = None) -> tuple[int, int, int]:
    """(orders, delivery orders, invoices), in one workspace or all."""
    result = []
    async with ctx.db.session() as session:
        for table in (Order, DeliveryOrder, Invoice):
            statement = select(func.count()).select_from(table)
            if workspace_id is not None:
                statement = statement.where(table.workspace_id == workspace_id)
            result.append(int(await session.scalar(statement) or 0))
    return result[0], result[1], result[2]
