"""Roles, what each may do, and the one table of what every route needs."""

from __future__ import annotations

from enum import StrEnum

from opsdesk.core.errors import PermissionDenied


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    viewer = "viewer"
    service = "service"


class Permission(StrEnum):
    read = "read"  # see the workspace's data
    invoke = "invoke"  # call models, ask questions that change nothing
    write = "write"  # change business data (documents, orders, catalog, conversations that may place orders)
    manage = "manage"  # users, API keys, workspace settings


class Access(StrEnum):
    """Routes that need no role: no credentials, or credentials of their own (a signature, an invitation token)."""

    public = "public"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission),
    Role.operator: frozenset({Permission.read, Permission.invoke, Permission.write}),
    Role.service: frozenset({Permission.read, Permission.invoke, Permission.write}),
    Role.viewer: frozenset({Permission.read, Permission.invoke}),
}

_WS = "/api/v1/workspaces/{workspace}"
_KB = f"{_WS}/knowledge-bases/{{kb}}"
_ORDER = f"{_WS}/orders/{{order}}"
_R, _I, _W, _M, _PUBLIC = Permission.read, Permission.invoke, Permission.write, Permission.manage, Access.public

# Every route of the API and what it needs; `current_principal` enforces it, so a route missing here is refused
# (tests/auth/test_roles.py checks the table against the app's OpenAPI and each role). A viewer only reads and asks:
# anything that can place or confirm an order, change data or settings needs `write` or `manage`.
ROUTE_ACCESS: dict[str, Permission | Access] = {
    "GET /healthz": _PUBLIC,
    "GET /readyz": _PUBLIC,
    "GET /metrics": _PUBLIC,
    "POST /api/v1/auth/token": _PUBLIC,
    "GET /api/v1/auth/me": _R,
    "GET /api/v1/invitations": _R,  # the signed-in user's own invitations
    "POST /api/v1/invitations/{invitation_id}/accept": _R,  # joins another workspace: the user's own account
    f"GET {_WS}/members": _M,
    f"POST {_WS}/members": _M,
    f"GET {_WS}/api-keys": _M,
    f"POST {_WS}/api-keys": _M,
    f"DELETE {_WS}/api-keys/{{key_id}}": _M,
    "POST /v1/chat/completions": _I,
    "GET /v1/models": _I,
    "POST /v1/embeddings": _I,
    f"GET {_WS}/knowledge-bases": _R,
    f"POST {_WS}/knowledge-bases": _W,
    f"GET {_KB}": _R,
    f"PATCH {_KB}": _W,
    f"DELETE {_KB}": _W,
    f"GET {_KB}/documents": _R,
    f"POST {_KB}/documents": _W,
    f"GET {_KB}/documents/{{document_id}}": _R,
    f"DELETE {_KB}/documents/{{document_id}}": _W,
    f"GET {_KB}/documents/{{document_id}}/versions": _R,
    f"GET {_KB}/documents/{{document_id}}/versions/{{version}}": _R,
    f"GET {_KB}/documents/{{document_id}}/versions/{{version}}/content": _R,
    f"GET {_KB}/documents/{{document_id}}/versions/{{version}}/chunks": _R,
    f"POST {_KB}/ingest": _W,
    f"GET {_KB}/jobs": _R,
    f"GET {_KB}/jobs/{{job_id}}": _R,
    f"POST {_KB}/jobs/{{job_id}}/retry": _W,
    f"GET {_KB}/jobs/{{job_id}}/events": _R,
    f"GET {_KB}/tasks": _R,
    f"POST {_KB}/tasks": _W,
    f"GET {_KB}/tasks/{{task_id}}": _R,
    f"PATCH {_KB}/tasks/{{task_id}}": _W,
    f"DELETE {_KB}/tasks/{{task_id}}": _W,
    f"POST {_KB}/query": _R,
    f"POST {_WS}/orders/messages": _W,  # places and confirms orders
    f"GET {_WS}/orders": _R,
    f"POST {_WS}/orders/invoices/retry": _W,
    f"GET {_ORDER}": _R,
    f"POST {_ORDER}/confirm": _W,
    f"POST {_ORDER}/change": _W,
    f"POST {_ORDER}/cancel": _W,
    f"POST {_ORDER}/dispatch": _W,
    f"POST {_ORDER}/deliver": _W,
    f"GET {_ORDER}/delivery-order.xlsx": _R,
    f"GET {_ORDER}/invoice.pdf": _R,
    **{
        f"{method} {_WS}/catalog/{table}{suffix}": permission
        for table, key in (("products", "{sku}"), ("outlets", "{code}"), ("rules", "{name}"))
        for method, suffix, permission in (
            ("GET", "", _R),
            ("POST", "", _W),
            ("POST", "/import", _W),
            ("GET", f"/{key}", _R),
            ("PATCH", f"/{key}", _W),
            ("DELETE", f"/{key}", _W),
        )
    },
    f"PUT {_WS}/delivery-lists/template": _W,
    f"GET {_WS}/delivery-lists/template": _R,
    f"DELETE {_WS}/delivery-lists/template": _W,
    f"GET {_WS}/delivery-lists/template.xlsx": _R,
    f"GET {_WS}/delivery-lists/workbook.xlsx": _R,
    f"POST {_WS}/conversations/messages": _W,  # a customer's message may place or confirm an order
    f"POST {_WS}/channels/whatsapp/webhook": _W,  # the same, from a WhatsApp bridge holding an API key
    f"GET {_WS}/conversations/sessions": _R,
    f"GET {_WS}/conversations/sessions/{{session_id}}": _R,
    f"GET {_WS}/conversations/sessions/{{session_id}}/messages": _R,
    f"POST {_WS}/conversations/sessions/{{session_id}}/close": _W,
    f"POST {_WS}/conversations/sessions/{{session_id}}/escalate": _W,
    f"POST {_WS}/conversations/purge": _M,
    f"GET {_WS}/inbox/escalations": _R,
    f"GET {_WS}/inbox/escalations/{{escalation_id}}": _R,
    f"POST {_WS}/inbox/escalations/{{escalation_id}}/acknowledge": _W,
    f"POST {_WS}/inbox/escalations/{{escalation_id}}/assign": _W,
    f"POST {_WS}/inbox/escalations/{{escalation_id}}/resolve": _W,
    f"POST {_WS}/inbox/sla-check": _W,
    f"GET {_WS}/channels/whatsapp/config": _M,
    f"PUT {_WS}/channels/whatsapp/config": _M,
    f"DELETE {_WS}/channels/whatsapp/config": _M,
    f"GET {_WS}/channels/whatsapp/messages": _M,
    "GET /api/v1/channels/whatsapp/{workspace_ref}/webhook": _PUBLIC,  # Meta's verify-token handshake
    "POST /api/v1/channels/whatsapp/{workspace_ref}/webhook": _PUBLIC,  # signed by the app secret
    f"GET {_WS}/settings": _R,
    f"PATCH {_WS}/settings": _M,
    f"GET {_WS}/settings/logo": _R,
    f"PUT {_WS}/settings/logo": _M,
    f"DELETE {_WS}/settings/logo": _M,
    f"GET {_WS}/audit": _M,  # who changed what: admins
    f"PATCH {_WS}/members/{{user_id}}": _M,
    f"DELETE {_WS}/members/{{user_id}}": _M,
    f"GET {_WS}/invitations": _M,
    f"DELETE {_WS}/invitations/{{invitation_id}}": _M,
    f"GET {_WS}/jobs": _R,
    f"GET {_WS}/jobs/schedules": _R,  # the installation's schedules; turned on and off from the CLI only
    f"GET {_WS}/jobs/{{job_id}}": _R,
    f"POST {_WS}/jobs/{{job_id}}/retry": _W,  # admins and operators
    f"POST {_WS}/jobs/{{job_id}}/cancel": _W,
    "ANY /mcp": _R,  # MCP over HTTP: an API key with read (knowledge.query.mcp_server.ApiKeyAuth)
    # Inventory planner: anyone reads plans; importing, forecasting, recommending and learning write.
    f"POST {_WS}/planner/imports": _W,
    f"GET {_WS}/planner/constraints": _R,
    f"PUT {_WS}/planner/constraints": _W,
    f"POST {_WS}/planner/forecasts": _W,
    f"GET {_WS}/planner/forecasts/{{run_id}}": _R,
    f"GET {_WS}/planner/forecasts/{{run_id}}/series": _R,
    f"POST {_WS}/planner/recommendations": _W,
    f"GET {_WS}/planner/recommendations/latest": _R,
    f"GET {_WS}/planner/recommendations/{{run_id}}": _R,
    f"POST {_WS}/planner/recommendations/{{run_id}}/what-if": _W,
    f"GET {_WS}/planner/recommendations/{{run_id}}/export.xlsx": _R,
    f"GET {_WS}/planner/measures": _R,
    f"GET {_WS}/planner/measures/history": _R,
    f"GET {_WS}/planner/plots/{{chart}}": _R,
    f"GET {_WS}/planner/reports/latest.pdf": _R,
    f"POST {_WS}/planner/learning-cycles": _W,
    f"GET {_WS}/planner/learning-cycles": _R,
    f"GET {_WS}/crew/connections": _M,  # vendor credentials: admins only
    f"GET {_WS}/crew/connections/{{vendor}}": _M,
    f"PUT {_WS}/crew/connections/{{vendor}}": _M,
    f"DELETE {_WS}/crew/connections/{{vendor}}": _M,
    f"POST {_WS}/crew/connections/{{vendor}}/check": _M,
    f"POST {_WS}/crew/runs": _W,  # writes to the workspace's Jira, GitLab and Confluence once approved
    f"GET {_WS}/crew/runs": _R,
    f"GET {_WS}/crew/runs/{{run_id}}": _R,
    f"GET {_WS}/crew/runs/{{run_id}}/events": _R,
    f"POST {_WS}/crew/runs/{{run_id}}/approve": _W,
    f"POST {_WS}/crew/runs/{{run_id}}/resume": _W,
    f"GET {_WS}/voice/calls": _R,  # call records: masked transcripts, no PINs or numbers
    f"GET {_WS}/voice/calls/{{call_id}}": _R,
    f"GET {_WS}/voice/calls/{{call_id}}/recording": _W,  # the caller's own voice: operators and admins; audited
    f"ANY {_WS}/voice/ws": _R,  # WebSocket calls to the voice desk (no OpenAPI operation: hence ANY)
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def route_access(method: str, path: str) -> Permission | Access:
    """What the route `path` (its template, e.g. /api/v1/workspaces/{workspace}/orders) needs for `method`."""
    method = "GET" if method == "HEAD" else method
    access = ROUTE_ACCESS.get(f"{method} {path}") or ROUTE_ACCESS.get(f"ANY {path}")
    if access is None:
        # Fail closed: a route nobody listed is refused for everyone until it is added above.
        raise PermissionDenied(f"{method} {path} is not in the role table.", code="route_not_in_role_table")
    return access
