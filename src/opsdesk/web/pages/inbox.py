"""Conversations and the operator inbox: transcripts per channel; escalations by level with SLA timers that the page
polls every few seconds; take a case over, reply to the customer as staff, resolve it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Form, Query
from starlette.responses import RedirectResponse, Response

from opsdesk.auth.service import Principal
from opsdesk.conversation import escalation as inbox
from opsdesk.conversation import service as conversations
from opsdesk.conversation.routes import escalation_out, message_out, session_out
from opsdesk.core.errors import Conflict, InvalidInput
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render, render_fragment

router = page_router()
PAGE_SIZE = 50
POLL_SECONDS = 3
Channel = Literal["", "chat", "whatsapp", "voice"]
SessionStatus = Literal["", "open", "escalated", "closed"]


def who(principal: Principal) -> str:
    """How the inbox names the person acting (the API's form, so both show the same assignee)."""
    return f"{principal.kind}:{principal.subject_id}"


def sla_text(due: datetime, now: datetime) -> str:
    """'12m 05s left' or 'overdue by 3m 10s' (hours shown past 60 minutes)."""
    seconds = int((due - now).total_seconds())
    left = abs(seconds)
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    span = f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"
    return f"{span} left" if seconds >= 0 else f"overdue by {span}"


def _case(row: Any, principal: Principal, now: datetime) -> dict[str, Any]:
    case = escalation_out(row).model_dump(mode="json")
    case["sla"] = sla_text(row.sla_due_at, now) if row.status != "resolved" else "resolved"
    case["mine"] = row.assignee == who(principal)
    return case


async def _cases(c: Console, status: str) -> dict[str, Any]:
    """Open cases grouped by level, most urgent first; overdue ones moved up a level first (as the API's list)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        await inbox.check_sla(db, c.ctx.settings, workspace_id=principal.workspace_id)
    statuses = ["open", "acknowledged"] if status == "unresolved" else [status]
    rows: list[Any] = []
    async with c.ctx.db.session() as db:
        for one in statuses:
            found, _ = await inbox.list_escalations(db, principal.workspace_id, status=one, limit=200)
            rows += found
    now = datetime.now(UTC)
    rows.sort(key=lambda row: row.sla_due_at)
    levels = [{"level": level, "cases": [_case(r, principal, now) for r in rows if r.level == level]}
              for level in reversed(inbox.LEVELS)]  # fmt: skip
    return {"status": status, "levels": levels, "count": len(rows), "poll": POLL_SECONDS, "now": now.isoformat()}


@router.get("/inbox")
async def inbox_page(
    status: Literal["unresolved", "resolved"] = Query("unresolved"), c: Console = PageConsole
) -> Response:
    """Escalations by level with their SLA timers; the list refreshes itself every few seconds."""
    data = await _cases(c, status)
    if c.request.headers.get("hx-request"):
        return render_fragment(c, "inbox_cases.html", data)
    return render(c, "inbox.html", data)


@router.get("/conversations")
async def conversations_page(
    channel: Channel = Query(""),
    status: SessionStatus = Query(""),
    page: int = Query(1, ge=1, le=100_000),
    c: Console = PageConsole,
) -> Response:
    """Conversations per channel, latest activity first."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        rows, total = await conversations.list_sessions(
            db, principal.workspace_id, channel=channel or None, status=status or None,
            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
        )  # fmt: skip
    data = {
        "sessions": [session_out(row, principal).model_dump(mode="json", exclude={"state"}) for row in rows],
        "total": total,
        "channel": channel,
        "status": status,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
    }
    return render(c, "conversations.html", data)


@router.get("/conversations/{session_id}")
async def transcript_page(session_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """One conversation's transcript, its escalations, and (for those who may write) take over, reply, resolve."""
    principal = c.signed_in_principal
    now = datetime.now(UTC)
    async with c.ctx.db.session() as db:
        found = await conversations.get_session(db, principal.workspace_id, session_id)
        messages, total = await conversations.list_messages(db, principal.workspace_id, session_id, limit=200)
        cases, _ = await inbox.list_escalations(db, principal.workspace_id, session_id=session_id, limit=50)
        shown = [
            {
                **message_out(m, principal).model_dump(mode="json"),
                "staff": (m.meta or {}).get("staff"),
                "send_error": (m.meta or {}).get("send_error"),
            }
            for m in messages
        ]
        conversation = session_out(found, principal).model_dump(mode="json", exclude={"state"})
    open_cases = [_case(row, principal, now) for row in cases if row.status != "resolved"]
    data = {
        "conversation": conversation,
        "messages": shown,
        "messages_total": total,
        "cases": [_case(row, principal, now) for row in cases],
        "taken": any(case["mine"] for case in open_cases),
    }
    return render(c, "transcript.html", data)


def _back(session_id: uuid.UUID) -> Response:
    return RedirectResponse(f"/conversations/{session_id}", status_code=303)


@router.post("/inbox/{escalation_id}/take-over")
async def take_over(escalation_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """The case is yours: acknowledged (on its SLA still) and assigned to you (POST …/acknowledge, …/assign)."""
    principal = c.signed_in_principal
    me = who(principal)
    async with c.ctx.db.session() as db:
        case = await inbox.acknowledge(db, principal.workspace_id, escalation_id, by=me, note="Taken over.")
        if case.assignee != me:
            case = await inbox.assign(db, principal.workspace_id, escalation_id, assignee=me, by=me)
        session_id = case.session_id
    return _back(session_id)


@router.post("/inbox/{escalation_id}/resolve")
async def resolve(
    escalation_id: uuid.UUID, note: str = Form("", max_length=4000), c: Console = PageConsole
) -> Response:
    """Closes the case (POST …/resolve); the conversation is open again once no other case is."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        case = await inbox.resolve(
            db, principal.workspace_id, escalation_id, by=who(principal), note=note.replace("\x00", "") or None
        )
        session_id = case.session_id
    return _back(session_id)


@router.post("/conversations/{session_id}/reply")
async def reply(session_id: uuid.UUID, text: str = Form(..., max_length=4000), c: Console = PageConsole) -> Response:
    """Writes to the customer as staff; the conversation must have a case you have taken over."""
    principal = c.signed_in_principal
    text = text.replace("\x00", "").strip()
    if not text:
        raise InvalidInput("Write a reply first.", code="empty_reply")
    async with c.ctx.db.session() as db:
        conversation = await conversations.get_session(db, principal.workspace_id, session_id)
        cases, _ = await inbox.list_escalations(db, principal.workspace_id, session_id=session_id, limit=50)
        if not any(case.status != "resolved" and case.assignee == who(principal) for case in cases):
            raise Conflict("Take the conversation over before replying as staff.", code="not_taken_over")
        if conversation.status == "closed":
            raise Conflict("This conversation is closed.", code="session_closed")
        await conversations.store_staff_reply(db, conversation, text, who(principal))
    return _back(session_id)
