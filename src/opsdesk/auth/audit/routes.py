"""The audit log over the API: a workspace's admins read who changed what (Permission.manage)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.audit import service
from opsdesk.auth.deps import Paging, get_session, paging, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/audit", tags=["audit"])
can_manage = require_in_workspace(Permission.manage)
session_dep = Depends(get_session, scope="function")


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    actor_kind: str
    actor_id: uuid.UUID
    actor: str
    action: str
    route: str
    target: dict[str, Any]
    details: dict[str, Any]
    status: int
    request_id: str | None


@router.get("", response_model=Page[AuditEventOut])
async def list_audit_events(
    workspace: str,
    actor: str | None = Query(default=None, min_length=1, max_length=320),
    action: str | None = Query(default=None, min_length=1, max_length=100, pattern=r"^[\w.\-]+$"),
    asked: Paging = Depends(paging),
    principal: Principal = Depends(can_manage),
    session: AsyncSession = session_dep,
) -> Page[AuditEventOut]:
    """Who changed what, newest first; filter by actor (part of an email or key name) and action (a handler name)."""
    rows, total = await service.list_events(
        session, principal.workspace_id, actor=actor, action=action, limit=asked.limit, offset=asked.offset
    )
    return asked.page([AuditEventOut.model_validate(row) for row in rows], total)
