"""A workspace's members and open invitations as its admins manage them: change a role, remove someone, list and
cancel invitations. A workspace always keeps at least one admin. A removed member's tokens and console sessions stop
at their next request (every request looks the membership up)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.models import Invitation, Membership, User
from opsdesk.auth.roles import Role
from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.db.paging import page

LAST_ADMIN = "The workspace needs at least one admin: make someone else admin first."


async def _membership(session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID) -> tuple[User, Membership]:
    found = (
        await session.execute(
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.workspace_id == workspace_id, Membership.user_id == user_id)
            .with_for_update(of=Membership)
        )
    ).first()
    if found is None:
        raise NotFound("No such member in this workspace.", code="member_not_found")
    user, membership = found.tuple()
    return user, membership


async def _other_admins(session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID) -> int:
    # Locks the workspace's admin rows, so two admins demoting each other at once cannot leave none.
    rows = await session.scalars(
        select(Membership.user_id)
        .where(Membership.workspace_id == workspace_id, Membership.role == Role.admin.value)
        .with_for_update()
    )
    return sum(1 for found in rows if found != user_id)


async def change_role(session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> User:
    """Gives a member another role; the service role is for API keys only."""
    if role is Role.service:
        raise InvalidInput("The service role is for API keys, not people.", code="invalid_role")
    user, membership = await _membership(session, workspace_id, user_id)
    demoted = membership.role == Role.admin.value and role is not Role.admin
    if demoted and not await _other_admins(session, workspace_id, user_id):
        raise InvalidInput(LAST_ADMIN, code="last_admin")
    membership.role = role.value
    await session.flush()
    return user


async def remove_member(session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """Ends a membership (the user and their other workspaces stay)."""
    user, membership = await _membership(session, workspace_id, user_id)
    if membership.role == Role.admin.value and not await _other_admins(session, workspace_id, user_id):
        raise InvalidInput(LAST_ADMIN, code="last_admin")
    await session.delete(membership)
    await session.flush()
    return user


async def open_invitations(
    session: AsyncSession, workspace_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[Invitation], int]:
    """A page of the invitations not accepted yet and not expired, oldest first, and their count. The id breaks ties
    of created_at, so a page never repeats or skips one."""
    query = select(Invitation).where(
        Invitation.workspace_id == workspace_id,
        Invitation.accepted_at.is_(None),
        Invitation.expires_at > func.now(),
    )
    return await page(session, query.order_by(Invitation.created_at, Invitation.id), limit, offset)


async def cancel_invitation(session: AsyncSession, workspace_id: uuid.UUID, invitation_id: uuid.UUID) -> Invitation:
    """Withdraws an open invitation: it can no longer be accepted."""
    invitation = await session.scalar(
        select(Invitation).where(Invitation.id == invitation_id, Invitation.workspace_id == workspace_id)
    )
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= datetime.now(UTC):
        raise NotFound("No open invitation with that id in this workspace.", code="invitation_not_found")
    await session.delete(invitation)
    await session.flush()
    return invitation
