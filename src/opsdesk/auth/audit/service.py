"""Writing and reading the audit log.

Rows are written by the app's audit middleware (`opsdesk.app.audit`) after a state-changing request succeeded, so
every route is covered without each handler remembering to; a handler adds what the path does not say (a new role,
an invited address) with `note(request, …)`. Request bodies are never stored: they may hold secrets.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from opsdesk.auth.audit.models import AuditEvent
from opsdesk.auth.models import ApiKey, User
from opsdesk.auth.service import Principal

DETAILS_KEY = "audit_details"


def note(request: Request, **details: str | int | float | bool | None) -> None:
    """Adds safe facts about the change to its audit row (plain values, never secrets)."""
    found = getattr(request.state, DETAILS_KEY, None)
    setattr(request.state, DETAILS_KEY, {**(found or {}), **details})


@dataclass(frozen=True, slots=True)
class Change:
    """One accepted state-changing request, as the middleware saw it."""

    principal: Principal
    action: str
    route: str
    target: dict[str, Any]
    details: dict[str, Any]
    status: int
    request_id: str | None


async def _actor(session: AsyncSession, principal: Principal) -> str:
    if principal.kind == "api_key":
        name = await session.scalar(select(ApiKey.name).where(ApiKey.id == principal.subject_id))
        return f"API key {name}" if name else f"API key {principal.subject_id}"
    email = await session.scalar(select(User.email).where(User.id == principal.subject_id))
    return email or str(principal.subject_id)


async def record(session: AsyncSession, change: Change) -> AuditEvent:
    row = AuditEvent(
        workspace_id=change.principal.workspace_id,
        actor_kind=change.principal.kind,
        actor_id=change.principal.subject_id,
        actor=(await _actor(session, change.principal))[:320],
        action=change.action[:100],
        route=change.route[:300],
        target=change.target,
        details=change.details,
        status=change.status,
        request_id=change.request_id,
    )
    session.add(row)
    await session.flush()
    return row


async def list_events(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """Newest first; `actor` matches part of the actor's name or email, `action` a handler's name or its start."""
    query = select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
    if actor:
        query = query.where(AuditEvent.actor.icontains(actor, autoescape=True))
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    newest_first = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id)
    rows = await session.scalars(newest_first.limit(limit).offset(offset))
    return list(rows), int(total)
