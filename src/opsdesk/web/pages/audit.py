"""Audit log: who changed what in this workspace, newest first, filtered by person or key and by action."""

from __future__ import annotations

from typing import Any

from fastapi import Query
from starlette.responses import Response

from opsdesk.auth.audit import service as audit
from opsdesk.auth.audit.models import AuditEvent
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render

router = page_router()
PER_PAGE = 50


def _event(row: AuditEvent) -> dict[str, Any]:
    return {
        "at": row.created_at,
        "actor": row.actor,
        "actor_kind": row.actor_kind,
        "action": row.action.replace("_", " "),
        "route": row.route,
        "target": row.target,
        "details": row.details,
        "request_id": row.request_id,
    }


@router.get("/admin/audit")
async def audit_page(
    actor: str = Query("", max_length=320),
    action: str = Query("", max_length=100, pattern=r"^[\w.\-]*$"),
    offset: int = Query(0, ge=0, le=1_000_000),
    c: Console = PageConsole,
) -> Response:
    """The audit log, 50 rows a page (as GET …/audit)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        rows, total = await audit.list_events(
            db,
            principal.workspace_id,
            actor=actor.strip() or None,
            action=action.strip() or None,
            limit=PER_PAGE,
            offset=offset,
        )
    data = {
        "events": [_event(row) for row in rows],
        "total": total,
        "actor": actor,
        "action": action,
        "offset": offset,
        "next_offset": offset + PER_PAGE if offset + PER_PAGE < total else None,
        "previous_offset": max(0, offset - PER_PAGE) if offset else None,
    }
    return render(c, "audit.html", data)
