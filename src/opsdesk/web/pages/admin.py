"""Admin: the workspace's members and their roles (change one, invite someone), the chat providers with their
circuit breakers, and model usage and cost per provider, model and day from the stored call records."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import Form
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from opsdesk.app.context import AppContext
from opsdesk.auth import invitations, members
from opsdesk.auth import service as auth
from opsdesk.auth.audit import service as audit
from opsdesk.auth.roles import Role
from opsdesk.core.errors import InvalidInput
from opsdesk.providers.models import ProviderCall
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render

router = page_router()
USAGE_DAYS = 30
_MEMBERS = 200
_INVITATIONS = 200  # the oldest open invitations shown; the page says how many more there are
_ROLES = [role.value for role in Role if role is not Role.service]  # service is for API keys, not people


def providers_health(ctx: AppContext) -> list[dict[str, Any]]:
    """Each configured chat provider, its breaker state (closed: healthy) and its place in the `opsdesk` chain."""
    chain = ctx.settings.fallback_chain()
    configured = ctx.settings.chat_providers()
    found = []
    for name in ctx.providers.names:
        provider = ctx.providers.chat(name)
        found.append(
            {
                "name": name,
                "kind": configured[name].kind if name in configured else "",
                "model": provider.model,
                "breaker": provider.breaker_state,
                "chain_position": chain.index(name) + 1 if name in chain else None,
            }
        )
    return found


async def usage_rows(db: AsyncSession, workspace_id: uuid.UUID, since: date) -> list[dict[str, Any]]:
    """Calls, failures, tokens and cost per UTC day, provider and model for the workspace's recorded calls."""
    day = func.date_trunc("day", func.timezone("UTC", ProviderCall.created_at)).label("day")
    query = (
        select(
            day,
            ProviderCall.provider,
            ProviderCall.model,
            func.count().label("calls"),
            func.count().filter(ProviderCall.outcome != "ok").label("failed"),
            func.coalesce(func.sum(ProviderCall.tokens_in), 0).label("tokens_in"),
            func.coalesce(func.sum(ProviderCall.tokens_out), 0).label("tokens_out"),
            func.coalesce(func.sum(ProviderCall.cost_usd), 0.0).label("cost_usd"),
        )
        .where(
            ProviderCall.workspace_id == workspace_id,
            ProviderCall.created_at >= datetime.combine(since, datetime.min.time(), tzinfo=UTC),
        )
        .group_by(day, ProviderCall.provider, ProviderCall.model)
        .order_by(day, ProviderCall.provider, ProviderCall.model)
    )
    return [
        {
            "day": row.day.date().isoformat(),
            "provider": row.provider,
            "model": row.model,
            "calls": int(row.calls),
            "failed": int(row.failed),
            "tokens_in": int(row.tokens_in),
            "tokens_out": int(row.tokens_out),
            "cost_usd": float(row.cost_usd),
        }
        for row in await db.execute(query)
    ]


def usage_chart(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One stacked bar trace per provider/model over the days: cost, or tokens when every call was free."""
    if not rows:
        return None
    measure = "cost_usd" if any(row["cost_usd"] > 0 for row in rows) else "tokens"
    days = sorted({row["day"] for row in rows})
    series: dict[str, dict[str, float]] = {}
    for row in rows:
        value = row["cost_usd"] if measure == "cost_usd" else row["tokens_in"] + row["tokens_out"]
        per_day = series.setdefault(f"{row['provider']}/{row['model']}", {})
        per_day[row["day"]] = per_day.get(row["day"], 0.0) + value
    return {
        "title": "Cost per day (USD)" if measure == "cost_usd" else "Tokens per day (every call was free)",
        "y_title": "USD" if measure == "cost_usd" else "tokens",
        "days": days,
        "series": [{"name": name, "y": [values.get(d, 0.0) for d in days]} for name, values in sorted(series.items())],
    }


async def _members(db: AsyncSession, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    rows, _ = await auth.list_members(db, workspace_id, _MEMBERS, 0)
    return [
        {"user_id": user.id, "email": user.email, "name": user.display_name, "role": membership.role}
        for user, membership in rows
    ]


async def _page(c: Console, notice: str | None = None, status: int = 200) -> Response:
    principal = c.signed_in_principal
    since = datetime.now(UTC).date() - timedelta(days=USAGE_DAYS - 1)
    async with c.ctx.db.session() as db:
        people = await _members(db, principal.workspace_id)
        invitations_open, invitations_total = await members.open_invitations(
            db, principal.workspace_id, limit=_INVITATIONS, offset=0
        )
        usage = await usage_rows(db, principal.workspace_id, since)
    c.plots = bool(usage)
    data = {
        "members": people,
        "invitations": [
            {"id": i.id, "email": i.email, "role": i.role, "expires_at": i.expires_at} for i in invitations_open
        ],
        "invitations_total": invitations_total,
        "roles": _ROLES,
        "me": principal.subject_id,
        "notice": notice,
        "providers": providers_health(c.ctx),
        "usage": usage,
        "usage_days": USAGE_DAYS,
        "usage_chart": usage_chart(usage),
        "totals": {
            "calls": sum(row["calls"] for row in usage),
            "failed": sum(row["failed"] for row in usage),
            "cost_usd": sum(row["cost_usd"] for row in usage),
        },
    }
    return render(c, "admin.html", data, status=status)


@router.get("/admin")
async def admin_page(c: Console = PageConsole) -> Response:
    """Members, providers and their health, usage and cost."""
    return await _page(c)


@router.post("/admin/members/{user_id}/role")
async def change_role(user_id: uuid.UUID, role: Role = Form(...), c: Console = PageConsole) -> Response:
    """Gives a member another role here (as PATCH …/members/{id}); the workspace always keeps at least one admin."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        user = await members.change_role(db, principal.workspace_id, user_id, role)
        audit.note(c.request, member=user.email, role=role.value)
    if user_id == principal.subject_id and role is not Role.admin:
        return RedirectResponse("/", status_code=303)  # no longer allowed here
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/members/{user_id}/remove")
async def remove_member(user_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """Removes someone from this workspace (as DELETE …/members/{id}); never the last admin."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        user = await members.remove_member(db, principal.workspace_id, user_id)
        audit.note(c.request, member=user.email)
        notice = f"Removed {user.email} from this workspace."
    if user_id == principal.subject_id:
        return RedirectResponse("/", status_code=303)
    return await _page(c, notice)


@router.post("/admin/invitations/{invitation_id}/cancel")
async def cancel_invitation(invitation_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """Withdraws an open invitation (as DELETE …/invitations/{id})."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        invitation = await members.cancel_invitation(db, principal.workspace_id, invitation_id)
        audit.note(c.request, email=invitation.email)
        notice = f"The invitation of {invitation.email} is cancelled."
    return await _page(c, notice)


@router.post("/admin/invitations")
async def invite(
    email: str = Form(..., min_length=3, max_length=320), role: Role = Form(Role.viewer), c: Console = PageConsole
) -> Response:
    """Invites an email (as POST …/members does): they join once they accept, signed in as themselves."""
    principal = c.signed_in_principal
    if "@" not in email or role is Role.service:
        raise InvalidInput("Give an email address and a role for a person.", code="invalid_invitation")
    async with c.ctx.db.session() as db:
        workspace = await auth.get_workspace(db, principal.workspace_slug)
        invitation = await invitations.invite(db, workspace, email, role, principal.subject_id)
        notice = f"Invited {invitation.email} as {invitation.role}; they join once they accept."
        audit.note(c.request, email=invitation.email, role=invitation.role)
    return await _page(c, notice, status=201)
