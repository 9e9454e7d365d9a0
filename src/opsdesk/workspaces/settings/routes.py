"""Workspace settings API: read (any member), change and the invoice logo (admins: Permission.manage).

``{workspace}`` is the workspace's slug or ``current``, the caller's own workspace.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Body, Depends, File, Request, Response, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.auth.audit import service as audit
from opsdesk.auth.deps import current_principal, get_ctx, get_session
from opsdesk.auth.roles import Permission
from opsdesk.auth.service import Principal
from opsdesk.core.errors import NotFound
from opsdesk.core.uploads import read_upload
from opsdesk.workspaces.settings import service
from opsdesk.workspaces.settings.schemas import WorkspaceSettingsOut

PREFIX = "/api/v1/workspaces/{workspace}/settings"
CURRENT = "current"
router = APIRouter(prefix=PREFIX, tags=["workspace settings"])

_EXAMPLE = {
    "seller": {"name": "Harbour Supplies Ltd", "address_lines": ["1 Quay Street", "Auckland 1010"]},
    "currency": "NZD",
    "tax": {"name": "GST", "rate": "0.15"},
    "anomalies": {"item_ceilings": {"PB-12R": 50}},
    "urgency": {"to_inbox": True},
}


def _member(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """The caller, in ``{workspace}`` (its slug or "current") and allowed ``permission``."""

    async def _check(workspace: str, principal: Principal = Depends(current_principal)) -> Principal:
        if workspace != CURRENT:
            principal.require_workspace(workspace)
        principal.require(permission)
        return principal

    return _check


can_read = _member(Permission.read)
can_manage = _member(Permission.manage)


def _changed(ctx: AppContext, workspace_id: uuid.UUID) -> None:
    """After the commit: this process uses the new settings from the next message on."""
    service.settings_cache(ctx.extras).invalidate(workspace_id)


@router.get("", response_model=WorkspaceSettingsOut)
async def get_settings(
    workspace: str,
    principal: Principal = Depends(can_read),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = Depends(get_session, scope="function"),
) -> WorkspaceSettingsOut:
    """The settings in effect: the workspace's own values, the defaults for the rest."""
    return await service.read(session, ctx.settings, principal.workspace_id)


@router.patch("", response_model=WorkspaceSettingsOut)
async def patch_settings(
    workspace: str,
    request: Request,
    change: dict[str, Any] = Body(..., openapi_examples={"new seller and tax": {"value": _EXAMPLE}}),
    principal: Principal = Depends(can_manage),
    ctx: AppContext = Depends(get_ctx),
) -> WorkspaceSettingsOut:
    """Changes some settings (a JSON merge patch: objects merge, null returns a value to its default)."""
    async with ctx.db.session() as session:
        out = await service.update(session, ctx.settings, principal.workspace_id, change)
    audit.note(request, changed=", ".join(sorted(change))[:500])
    _changed(ctx, principal.workspace_id)
    return out


@router.get("/logo", response_class=Response)
async def get_logo(
    workspace: str,
    principal: Principal = Depends(can_read),
    session: AsyncSession = Depends(get_session, scope="function"),
) -> Response:
    """The logo printed on invoices."""
    found = await service.logo_of(session, principal.workspace_id)
    if found is None:
        raise NotFound("This workspace has no logo.", code="no_logo")
    return Response(found[0], media_type=found[1])


@router.put("/logo", response_model=WorkspaceSettingsOut)
async def put_logo(
    workspace: str,
    file: UploadFile = File(..., description=f"A PNG or JPEG of at most {service.LOGO_MAX_BYTES:,} bytes."),
    principal: Principal = Depends(can_manage),
    ctx: AppContext = Depends(get_ctx),
) -> WorkspaceSettingsOut:
    """Stores (or replaces) the logo printed on the workspace's invoices."""
    data = await read_upload(file, service.LOGO_MAX_BYTES, what="The logo")
    async with ctx.db.session() as session:
        await service.set_logo(session, principal.workspace_id, data)
        out = await service.read(session, ctx.settings, principal.workspace_id)
    _changed(ctx, principal.workspace_id)
    return out


@router.delete("/logo", status_code=204, response_class=Response)
async def delete_logo(
    workspace: str, principal: Principal = Depends(can_manage), ctx: AppContext = Depends(get_ctx)
) -> Response:
    """Removes the logo; invoices print the seller's name only."""
    async with ctx.db.session() as session:
        await service.delete_logo(session, principal.workspace_id)
    _changed(ctx, principal.workspace_id)
    return Response(status_code=204)
