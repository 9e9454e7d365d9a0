"""Members and invitations over the API, for a workspace's admins (Permission.manage): change a role, remove a
member, list and cancel open invitations. Inviting is POST …/members (auth.routes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import members
from opsdesk.auth.audit import service as audit
from opsdesk.auth.deps import Paging, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission, Role
from opsdesk.auth.schemas import MemberOut, Page
from opsdesk.auth.service import Principal

router = APIRouter(prefix="/api/v1/workspaces/{workspace}", tags=["auth"])
can_manage = require_in_workspace(Permission.manage)
session_dep = Depends(get_session, scope="function")


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class OpenInvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime


@router.patch("/members/{user_id}", response_model=MemberOut)
async def change_member_role(
    workspace: str,
    user_id: uuid.UUID,
    body: RoleChange,
    request: Request,
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
) -> MemberOut:
    """Gives a member another role; the last admin cannot stop being one."""
    user = await members.change_role(session, principal.workspace_id, user_id, body.role)
    audit.note(request, member=user.email, role=body.role.value)
    return MemberOut(user_id=user.id, email=user.email, display_name=user.display_name, role=body.role)


@router.delete("/members/{user_id}", status_code=204)
async def remove_member(
    workspace: str,
    user_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
) -> None:
    """Removes someone from this workspace; their tokens and sessions here stop at their next request."""
    user = await members.remove_member(session, principal.workspace_id, user_id)
    audit.note(request, member=user.email)


@router.get("/invitations", response_model=Page[OpenInvitationOut])
async def list_invitations(
    workspace: str,
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
) -> Page[OpenInvitationOut]:
    """Invitations not accepted yet and not expired, oldest first."""
    rows, total = await members.open_invitations(
        session, principal.workspace_id, limit=asked.limit, offset=asked.offset
    )
    return asked.page([OpenInvitationOut.model_validate(row) for row in rows], total)


@router.delete("/invitations/{invitation_id}", status_code=204)
async def cancel_invitation(
    workspace: str,
    invitation_id: uuid.UUID,
    request: Request,
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
) -> None:
    """Withdraws an open invitation."""
    invitation = await members.cancel_invitation(session, principal.workspace_id, invitation_id)
    audit.note(request, email=invitation.email)
