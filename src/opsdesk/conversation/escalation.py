"""Escalations: levels with money limits, SLA timers, complaint flags, and the operator inbox's actions.

Levels run ai -> staff -> manager -> director. A case starts at the level it asks for, raised to the lowest level
whose money limit covers its amount. Each level has an SLA (minutes to resolve); `check_sla` moves overdue cases
up one level with a fresh SLA, and marks a director-level case that is overdue as breached.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.conversation.handlers import EscalationRequest
from opsdesk.conversation.models import ConversationSession, Escalation
from opsdesk.core.errors import Conflict, InvalidInput, NotFound
from opsdesk.core.settings import Settings
from opsdesk.db.paging import page
from opsdesk.workspaces.settings.schemas import ESCALATION_LEVELS, EscalationSettings
from opsdesk.workspaces.settings.service import load

LEVELS: tuple[str, ...] = ESCALATION_LEVELS
OPEN_STATUSES = ("open", "acknowledged")


def level_index(level: str) -> int:
    try:
        return LEVELS.index(level)
    except ValueError:
        raise InvalidInput(f"Unknown escalation level {level!r}; levels: {', '.join(LEVELS)}.") from None


async def rules_of(session: AsyncSession, settings: Settings, workspace_id: uuid.UUID) -> EscalationSettings:
    """The workspace's levels: money limits and SLA minutes (its settings, else the environment's defaults)."""
    return (await load(session, settings, workspace_id)).settings.escalation


def level_for_amount(rules: EscalationSettings, amount: Decimal | None) -> str:
    """The lowest level allowed to decide on `amount` (director when no limit covers it)."""
    if amount is None:
        return LEVELS[0]
    for level in LEVELS[:-1]:
        limit = rules.level(level).money_limit
        if limit is not None and amount <= limit:
            return level
    return LEVELS[-1]


def starting_level(rules: EscalationSettings, requested: str, amount: Decimal | None) -> str:
    return LEVELS[max(level_index(requested), level_index(level_for_amount(rules, amount)))]


def sla_due(rules: EscalationSettings, level: str, now: datetime) -> datetime:
    return now + timedelta(minutes=rules.level(level).sla_minutes)


def _event(now: datetime, event: str, **data: Any) -> dict[str, Any]:
    return {"at": now.isoformat(), "event": event, **{k: v for k, v in data.items() if v is not None}}


async def create_escalation(
    session: AsyncSession,
    settings: Settings,
    conversation: ConversationSession,
    request: EscalationRequest,
    *,
    message_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Escalation:
    """Opens a case for the session and marks the session escalated."""
    now = now or datetime.now(UTC)
    rules = await rules_of(session, settings, conversation.workspace_id)
    level = starting_level(rules, request.level, request.amount)
    escalation = Escalation(
        workspace_id=conversation.workspace_id,
        session_id=conversation.id,
        message_id=message_id,
        level=level,
        reason=request.reason[:2000],
        complaint=request.complaint,
        amount=request.amount,
        sla_due_at=sla_due(rules, level, now),
        status="open",
        notes=[],
        history=[_event(now, "created", level=level)],
        breached=False,
        updated_at=now,
    )
    session.add(escalation)
    conversation.status = "escalated"
    await session.flush()
    return escalation


async def get_escalation(
    session: AsyncSession, workspace_id: uuid.UUID, escalation_id: uuid.UUID, *, for_update: bool = False
) -> Escalation:
    query = select(Escalation).where(Escalation.workspace_id == workspace_id, Escalation.id == escalation_id)
    found = await session.scalar(query.with_for_update() if for_update else query)
    if found is None:
        raise NotFound(f"No escalation {escalation_id}.")
    return found


async def list_escalations(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    status: str | None = None,
    level: str | None = None,
    complaint: bool | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    session_id: uuid.UUID | None = None,
    now: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Escalation], int]:
    """The inbox: most urgent (earliest SLA) first."""
    now = now or datetime.now(UTC)
    query = select(Escalation).where(Escalation.workspace_id == workspace_id)
    if status:
        query = query.where(Escalation.status == status)
    if level:
        query = query.where(Escalation.level == LEVELS[level_index(level)])
    if complaint is not None:
        query = query.where(Escalation.complaint == complaint)
    if assignee:
        query = query.where(Escalation.assignee == assignee)
    if session_id:
        query = query.where(Escalation.session_id == session_id)
    if overdue is not None:
        late = Escalation.status.in_(OPEN_STATUSES) & (Escalation.sla_due_at < now)
        query = query.where(late if overdue else ~late)
    return await page(session, query.order_by(Escalation.sla_due_at, Escalation.id), limit, offset)


def _open_or_conflict(escalation: Escalation) -> None:
    if escalation.status == "resolved":
        raise Conflict("This escalation is already resolved.", code="escalation_resolved")


def _note(escalation: Escalation, now: datetime, by: str, text: str | None) -> None:
    if text:
        escalation.notes = [*escalation.notes, {"at": now.isoformat(), "by": by, "text": text[:4000]}]


async def acknowledge(
    session: AsyncSession, workspace_id: uuid.UUID, escalation_id: uuid.UUID, *, by: str, note: str | None = None
) -> Escalation:
    """Someone is on it; it stays on its SLA."""
    now = datetime.now(UTC)
    escalation = await get_escalation(session, workspace_id, escalation_id, for_update=True)
    _open_or_conflict(escalation)
    escalation.status = "acknowledged"
    escalation.assignee = escalation.assignee or by
    escalation.history = [*escalation.history, _event(now, "acknowledged", by=by)]
    _note(escalation, now, by, note)
    escalation.updated_at = now
    await session.flush()
    return escalation


async def assign(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    escalation_id: uuid.UUID,
    *,
    assignee: str,
    by: str,
    note: str | None = None,
) -> Escalation:
    now = datetime.now(UTC)
    escalation = await get_escalation(session, workspace_id, escalation_id, for_update=True)
    _open_or_conflict(escalation)
    escalation.assignee = assignee
    escalation.history = [*escalation.history, _event(now, "assigned", by=by, assignee=assignee)]
    _note(escalation, now, by, note)
    escalation.updated_at = now
    await session.flush()
    return escalation


async def resolve(
    session: AsyncSession, workspace_id: uuid.UUID, escalation_id: uuid.UUID, *, by: str, note: str | None = None
) -> Escalation:
    """Closes the case; the session goes back to open when it has no other unresolved case."""
    now = datetime.now(UTC)
    escalation = await get_escalation(session, workspace_id, escalation_id, for_update=True)
    _open_or_conflict(escalation)
    escalation.status = "resolved"
    escalation.resolved_at = now
    escalation.history = [*escalation.history, _event(now, "resolved", by=by)]
    _note(escalation, now, by, note)
    escalation.updated_at = now
    await session.flush()
    others = await session.scalar(
        select(Escalation.id).where(
            Escalation.session_id == escalation.session_id, Escalation.status.in_(OPEN_STATUSES)
        )
    )
    conversation = await session.get(ConversationSession, escalation.session_id)
    if others is None and conversation is not None and conversation.status == "escalated":
        conversation.status = "open"
    return escalation


async def check_sla(
    session: AsyncSession, settings: Settings, *, workspace_id: uuid.UUID | None = None, now: datetime | None = None
) -> list[Escalation]:
    """Moves every overdue, unresolved case up one level with a fresh SLA; returns the cases it changed.

    Rows are locked with SKIP LOCKED, so concurrent checks (several workers) never bump a case twice.
    """
    now = now or datetime.now(UTC)
    query = (
        select(Escalation)
        .where(Escalation.status.in_(OPEN_STATUSES), Escalation.sla_due_at < now, Escalation.breached.is_(False))
        .order_by(Escalation.sla_due_at)
        .with_for_update(skip_locked=True)
    )
    if workspace_id is not None:
        query = query.where(Escalation.workspace_id == workspace_id)
    changed = list(await session.scalars(query))
    rules: dict[uuid.UUID, EscalationSettings] = {}
    for escalation in changed:
        if escalation.workspace_id not in rules:
            rules[escalation.workspace_id] = await rules_of(session, settings, escalation.workspace_id)
        index = level_index(escalation.level)
        if index + 1 < len(LEVELS):
            new_level = LEVELS[index + 1]
            escalation.history = [
                *escalation.history,
                _event(now, "sla_bumped", from_level=escalation.level, to_level=new_level),
            ]
            escalation.level = new_level
            escalation.sla_due_at = sla_due(rules[escalation.workspace_id], new_level, now)
            escalation.status = "open"
            escalation.assignee = None
        else:
            escalation.breached = True
            escalation.history = [*escalation.history, _event(now, "sla_breached", level=escalation.level)]
        escalation.updated_at = now
    await session.flush()
    return changed
