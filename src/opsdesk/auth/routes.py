"""Auth API: tokens, who am I, members and API keys of a workspace."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.auth import invitations, service
from opsdesk.auth.audit import service as audit
from opsdesk.auth.deps import Paging, current_principal, get_ctx, get_session, paging, require_in_workspace
from opsdesk.auth.login_guard import LoginGuard
from opsdesk.auth.models import ApiKey
from opsdesk.auth.roles import Permission, Role
from opsdesk.auth.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    InvitationOut,
    InvitationSent,
    MemberIn,
    MemberOut,
    MembershipOut,
    Page,
    TokenRequest,
    TokenResponse,
    WhoAmI,
)
from opsdesk.auth.security import issue_token
from opsdesk.auth.service import Principal
from opsdesk.core.errors import NotAuthenticated
from opsdesk.db.idempotency import run_idempotent

router = APIRouter(prefix="/api/v1", tags=["auth"])
_manage = require_in_workspace(Permission.manage)


def _key_out(record: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=record.id,
        name=record.name,
        prefix=record.prefix,
        role=Role(record.role),
        created_at=record.created_at,
        last_used_at=record.last_used_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
    )


@router.post("/auth/token", response_model=TokenResponse)
async def create_token(
    body: TokenRequest,
    request: Request,
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = Depends(get_session, scope="function"),
) -> TokenResponse:
    """Exchanges email and password for a JWT access token scoped to one workspace."""
    client, account = request.client.host if request.client else "unknown", body.email.strip().lower()
    guard = LoginGuard(ctx.limiter)
    await guard.before_attempt(client, account)
    try:
        user, workspace, role = await service.authenticate(session, body.email, body.password, body.workspace)
    except NotAuthenticated:
        await guard.failed(client, account)
        raise
    await guard.succeeded(client, account)
    ttl = timedelta(minutes=ctx.settings.jwt_ttl_minutes)
    token = issue_token(ctx.settings.jwt_secret(), user.id, workspace.id, role, ttl)
    return TokenResponse(access_token=token, expires_in=int(ttl.total_seconds()), workspace=workspace.slug, role=role)


@router.get("/auth/me", response_model=WhoAmI)
async def who_am_i(principal: Principal = Depends(current_principal)) -> WhoAmI:
    return WhoAmI(kind=principal.kind, id=principal.subject_id, workspace=principal.workspace_slug, role=principal.role)


@router.get("/workspaces/{workspace}/members", response_model=Page[MemberOut])
async def list_members(
    workspace: str,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(_manage),
    session: AsyncSession = Depends(get_session, scope="function"),
) -> Page[MemberOut]:
    rows, total = await service.list_members(session, principal.workspace_id, asked.limit, asked.offset)
    items = [MemberOut(user_id=u.id, email=u.email, display_name=u.display_name, role=Role(m.role)) for u, m in rows]
    return asked.page(items, total)


@router.post("/workspaces/{workspace}/members", response_model=InvitationSent, status_code=202)
async def invite_member(
    workspace: str,
    body: MemberIn,
    request: Request,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(_manage),
    session: AsyncSession = Depends(get_session, scope="function"),
) -> InvitationSent:
    """Invites an email to a role here. Nobody becomes a member until the user with that email, signed in, accepts
    (GET /api/v1/invitations, then POST /api/v1/invitations/{id}/accept); the answer says nothing of whether that
    user exists."""

    async def create() -> InvitationSent:
        ws = await service.get_workspace(session, workspace)
        invited_by = principal.subject_id if principal.kind == "user" else None
        invitation = await invitations.invite(session, ws, body.email, body.role, invited_by)
        audit.note(request, email=invitation.email, role=invitation.role)
        return InvitationSent(email=invitation.email, role=Role(invitation.role), expires_at=invitation.expires_at)

    result: InvitationSent = await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route="members",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
        status_code=202,
    )
    return result


@router.get("/invitations", response_model=Page[InvitationOut])
async def my_invitations(
    asked: Paging = Depends(paging),
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session, scope="function"),
) -> Page[InvitationOut]:
    """The signed-in user's open invitations to other workspaces, oldest first."""
    found, total = await invitations.pending_for(session, principal, limit=asked.limit, offset=asked.offset)
    items = [
        InvitationOut(id=i.id, workspace=w.slug, workspace_name=w.name, role=Role(i.role), expires_at=i.expires_at)
        for i, w in found
    ]
    return asked.page(items, total)


@router.post("/invitations/{invitation_id}/accept", response_model=MembershipOut)
async def accept_invitation(
    invitation_id: uuid.UUID,
    principal: Principal = Depends(current_principal),
    session: AsyncSession = Depends(get_session, scope="function"),
) -> MembershipOut:
    """Joins the workspace as invited; only the user the invitation was sent to can."""
    membership, workspace = await invitations.accept(session, principal, invitation_id)
    return MembershipOut(workspace=workspace.slug, role=Role(membership.role))


@router.get("/workspaces/{workspace}/api-keys", response_model=Page[ApiKeyOut])
async def list_api_keys(
    workspace: str,
    asked: Paging = Depends(paging),
    include_revoked: bool = False,
    principal: Principal = Depends(_manage),
    session: AsyncSession = Depends(get_session, scope="function"),
) -> Page[ApiKeyOut]:
    records, total = await service.list_api_keys(
        session, principal.workspace_id, asked.limit, asked.offset, include_revoked
    )
    return asked.page([_key_out(r) for r in records], total)


@router.post("/workspaces/{workspace}/api-keys", response_model=ApiKeyCreated, status_code=201)
async def create_api_key(
    workspace: str,
    body: ApiKeyIn,
    request: Request,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(_manage),
    session: AsyncSession = Depends(get_session, scope="function"),
) -> ApiKeyCreated:
    """Creates an API key; the key itself is in this response only."""

    async def create() -> ApiKeyCreated:
        ws = await service.get_workspace(session, workspace)
        created_by = principal.subject_id if principal.kind == "user" else None
        key, record = await service.create_api_key(session, ws, body.name, body.role, created_by, body.expires_at)
        audit.note(request, name=record.name, role=record.role)
        return ApiKeyCreated(key=key, **_key_out(record).model_dump())

    result: ApiKeyCreated = await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route="api-keys",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
    )
    return result


@router.delete("/workspaces/{workspace}/api-keys/{key_id}", response_model=ApiKeyOut)
async def revoke_api_key(
    workspace: str,
    key_id: uuid.UUID,
    principal: Principal = Depends(_manage),
    session: AsyncSession = Depends(get_session, scope="function"),
    ctx: AppContext = Depends(get_ctx),
) -> ApiKeyOut:
    """Revokes a key at once; it stays listed with its revocation time."""
    record = await service.revoke_and_wait(session, ctx.extras, ctx.db.url, principal.workspace_id, key_id)
    return _key_out(record)
