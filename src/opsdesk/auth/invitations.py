"""Invitations: how a workspace admin gets someone into the workspace without reaching into their account.

An admin invites an email; the answer is the same whether or not anyone has that email. Only the user who owns the
email, signed in, sees the invitation (with the workspace's name) and turns it into a membership by accepting it.
The system admin (`opsdesk user add`) still adds members directly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.models import Invitation, Membership, User, Workspace
from opsdesk.auth.roles import Role
from opsdesk.auth.service import Principal, add_member
from opsdesk.core.errors import NotFound, PermissionDenied

INVITATION_TTL = timedelta(days=14)


async def invite(
    session: AsyncSession, workspace: Workspace, email: str, role: Role, invited_by: uuid.UUID | None
) -> Invitation:
    """Records (or renews) the invitation of `email`; touches no user and no membership."""
    email = email.strip().lower()
    expires_at = datetime.now(UTC) + INVITATION_TTL
    invitation = await session.scalar(
        select(Invitation).where(Invitation.workspace_id == workspace.id, Invitation.email == email)
    )
    if invitation is None:
        invitation = Invitation(workspace_id=workspace.id, email=email, role=role.value, invited_by=invited_by)
        session.add(invitation)
    invitation.role, invitation.invited_by, invitation.expires_at = role.value, invited_by, expires_at
    invitation.accepted_at = None
    await session.flush()
    return invitation


async def _invitee(session: AsyncSession, principal: Principal) -> User:
    if principal.kind != "user":
        raise PermissionDenied("Invitations belong to users; sign in with your email and password.", code="not_a_user")
    user = await session.get(User, principal.subject_id)
    if user is None:  # pragma: no cover - the principal was just checked against the database
        raise NotFound("No such user.")
    return user


async def pending_for(
    session: AsyncSession, principal: Principal, *, limit: int, offset: int
) -> tuple[list[tuple[Invitation, Workspace]], int]:
    """A page of the signed-in user's open invitations, oldest first, with the workspaces they are to; and their
    count. The id breaks ties of created_at, so a page never repeats or skips one."""
    user = await _invitee(session, principal)
    query = (
        select(Invitation, Workspace)
        .join(Workspace, Workspace.id == Invitation.workspace_id)
        .where(
            Invitation.email == user.email,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > datetime.now(UTC),
        )
    )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(query.order_by(Invitation.created_at, Invitation.id).limit(limit).offset(offset))
    return [(invitation, workspace) for invitation, workspace in rows], int(total or 0)


async def accept(session: AsyncSession, principal: Principal, invitation_id: uuid.UUID) -> tuple[Membership, Workspace]:
    """Makes the signed-in user a member as invited; an invitation to anyone else does not exist for them."""
    user = await _invitee(session, principal)
    found = (
        await session.execute(
            select(Invitation, Workspace)
            .join(Workspace, Workspace.id == Invitation.workspace_id)
            .where(Invitation.id == invitation_id, Invitation.email == user.email)
            .with_for_update(of=Invitation)
        )
    ).first()
    if found is None:
        raise NotFound("No such invitation for you.", code="no_invitation")
    invitation, workspace = found.tuple()
    if invitation.accepted_at is not None:  # accepted before: the membership as it is now (its role may have moved)
        existing = await session.scalar(
            select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == workspace.id)
        )
        if existing is not None:
            return existing, workspace
    elif invitation.expires_at <= datetime.now(UTC):
        raise NotFound("This invitation has expired; ask for a new one.", code="invitation_expired")
    membership = await add_member(session, user, workspace, Role(invitation.role))
    invitation.accepted_at = datetime.now(UTC)
    return membership, workspace
