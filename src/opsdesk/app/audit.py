"""The audit middleware: after a state-changing request that a member or an API key made succeeds, one row in the
workspace's audit log (`opsdesk.auth.audit`).

Which requests: those whose route needs `write` or `manage` in the role tables (the API's and the console's), except
the customer traffic that flows through them all day (conversation messages, webhooks) — those are the business
records themselves, kept in their own tables. Model calls and questions (`invoke`, `read`) change nothing.
"""

from __future__ import annotations

from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsdesk.auth.audit import service
from opsdesk.auth.audit.service import DETAILS_KEY, Change
from opsdesk.auth.roles import Permission, route_access
from opsdesk.auth.service import Principal
from opsdesk.core.errors import PermissionDenied
from opsdesk.core.logging import get_logger
from opsdesk.web.access import console_access

_log = get_logger(__name__)
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_AUDITED = frozenset({Permission.write, Permission.manage})
NOT_AUDITED = frozenset(
    {
        "POST /api/v1/workspaces/{workspace}/conversations/messages",
        "POST /api/v1/workspaces/{workspace}/channels/whatsapp/webhook",
        "POST /chat/solution",  # the console's playground speaking as a customer
    }
)


def _principal(state: dict[str, Any]) -> Principal | None:
    found = state.get("principal")
    if isinstance(found, Principal):
        return found
    console = state.get("console")
    principal = getattr(console, "principal", None)
    return principal if isinstance(principal, Principal) else None


def _needs(method: str, path: str) -> Any:
    try:
        return route_access(method, path) if path.startswith(("/api/", "/v1/")) else console_access(method, path)
    except PermissionDenied:
        return None


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _MUTATING:
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, send_wrapper)
        if status["code"] >= 400:
            return
        route = scope.get("route")
        path = getattr(route, "path", None)
        principal = _principal(scope.get("state") or {})
        if path is None or principal is None:
            return
        key = f"{scope['method']} {path}"
        if key in NOT_AUDITED or _needs(scope["method"], path) not in _AUDITED:
            return
        params = {k: str(v) for k, v in (scope.get("path_params") or {}).items() if k != "workspace"}
        change = Change(
            principal=principal,
            action=getattr(route, "name", None) or key,
            route=key,
            target=params,
            details=dict((scope.get("state") or {}).get(DETAILS_KEY) or {}),
            status=status["code"],
            request_id=structlog.contextvars.get_contextvars().get("request_id"),
        )
        try:
            async with scope["app"].state.ctx.db.session() as session:
                await service.record(session, change)
        except Exception:  # the change itself is done; a lost audit row is logged loudly, never a failed request
            _log.exception("audit_write_failed", route=key, actor=str(principal.subject_id))
