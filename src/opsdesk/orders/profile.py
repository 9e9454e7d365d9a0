"""The workspace's business settings as the order desk uses them: its rules (OrderPolicy) and its seller identity.

Read per call (through the workspace settings cache), so a change over the API applies to the next message.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.orders.documents import SellerData
from opsdesk.orders.policy import OrderPolicy
from opsdesk.workspaces.settings.schemas import WorkspaceSettings
from opsdesk.workspaces.settings.service import logo_of, workspace_settings


async def policy_for(ctx: AppContext, workspace_id: uuid.UUID) -> OrderPolicy:
    """The order rules of this workspace now."""
    return OrderPolicy.from_workspace(await workspace_settings(ctx, workspace_id))


def seller_of(workspace: WorkspaceSettings, logo: bytes | None = None) -> SellerData:
    """The distributor printed on the workspace's invoices and delivery orders."""
    seller = workspace.seller
    return SellerData(
        name=seller.name,
        address_lines=tuple(seller.address_lines),
        registration_number=seller.registration_number,
        tax_registration=seller.tax_registration,
        email=seller.email,
        phone=seller.phone,
        payment_instructions=seller.payment_instructions,
        logo=logo,
    )


async def seller_for(ctx: AppContext, session: AsyncSession, workspace_id: uuid.UUID) -> SellerData:
    """The workspace's seller identity with its logo (read only here: it is needed for documents alone)."""
    found = await logo_of(session, workspace_id)
    return seller_of(await workspace_settings(ctx, workspace_id), found[0] if found else None)
