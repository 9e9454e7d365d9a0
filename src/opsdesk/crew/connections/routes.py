"""Crew connections API under /api/v1/workspaces/{ws}/crew/connections (admins only): where the workspace's Jira,
Confluence and GitLab are and the token to use; the token is write-only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import Paging, get_ctx, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.crew.connections import service
from opsdesk.crew.connections.models import CrewConnection
from opsdesk.crew.connections.schemas import ConnectionCheck, ConnectionIn, ConnectionOut, Vendor
from opsdesk.crew.connections.secrets import TokenCipher
from opsdesk.crew.connectors import ConnectorPolicy

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/crew/connections", tags=["crew"])
can_manage = require_in_workspace(Permission.manage)
session_dep = Depends(get_session, scope="function")
# A check answers the admin quickly: one try, a short timeout.
_CHECK_POLICY = ConnectorPolicy(timeout_s=10.0, max_retries=0)


def _cipher(ctx: AppContext) -> TokenCipher:
    return TokenCipher(ctx.settings.jwt_secret())


def _out(row: CrewConnection) -> ConnectionOut:
    return ConnectionOut(
        vendor=row.vendor,  # type: ignore[arg-type]  # the table's check constraint holds it to Vendor
        base_url=row.base_url,
        username=row.username,
        scope=row.scope,
        token_set=bool(row.token_encrypted),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("", response_model=Page[ConnectionOut])
async def list_connections(
    workspace: str,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
) -> Page[ConnectionOut]:
    """The workspace's vendor connections by vendor (tokens shown only as set)."""
    rows, total = await service.page_connections(
        session, principal.workspace_id, limit=asked.limit, offset=asked.offset
    )
    return asked.page([_out(row) for row in rows], total)


@router.get("/{vendor}", response_model=ConnectionOut)
async def get_connection(
    workspace: str, vendor: Vendor, principal: Principal = Depends(can_manage), session: AsyncSession = session_dep
) -> ConnectionOut:
    return _out(await service.get_connection(session, principal.workspace_id, vendor))


@router.put("/{vendor}", response_model=ConnectionOut)
async def put_connection(
    workspace: str,
    vendor: Vendor,
    body: ConnectionIn,
    response: Response,
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
    ctx: AppContext = Depends(get_ctx),
) -> ConnectionOut:
    """Connects the vendor or changes the connection (201 when new); the token is stored encrypted."""
    row, created = await service.put_connection(session, principal.workspace_id, vendor, body, _cipher(ctx))
    response.status_code = 201 if created else 200
    return _out(row)


@router.delete("/{vendor}", status_code=204)
async def delete_connection(
    workspace: str, vendor: Vendor, principal: Principal = Depends(can_manage), session: AsyncSession = session_dep
) -> Response:
    """Forgets the connection and its token."""
    await service.delete_connection(session, principal.workspace_id, vendor)
    return Response(status_code=204)


@router.post("/{vendor}/check", response_model=ConnectionCheck)
async def check_connection(
    workspace: str,
    vendor: Vendor,
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
    ctx: AppContext = Depends(get_ctx),
) -> ConnectionCheck:
    """Signs in to the vendor and looks the scope up; ``ok`` false says what the vendor answered."""
    return await service.check_connection(session, principal.workspace_id, vendor, _cipher(ctx), _CHECK_POLICY)
