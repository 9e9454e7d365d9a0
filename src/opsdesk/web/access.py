"""What every console route needs: the console's rows of the role table, applied fail-closed like the API's.

The console's pages are HTML for people, signed in by cookie; they are not part of the API contract, so they stay
out of the OpenAPI schema (and so out of `auth.roles.ROUTE_ACCESS`, which is checked against it). They use the same
`Permission` names, the same `Principal` and the same `allows` rule: a page's row here says what the API's row says
for the service it calls (the API keys page: manage; the what-if form: write).
"""

from __future__ import annotations

from opsdesk.auth.roles import Access, Permission
from opsdesk.core.errors import PermissionDenied

_R, _W, _M, _PUBLIC = Permission.read, Permission.write, Permission.manage, Access.public

CONSOLE_ACCESS: dict[str, Permission | Access] = {
    "GET /static/{path:path}": _PUBLIC,
    "GET /signin": _PUBLIC,
    "POST /signin": _PUBLIC,  # still needs the sign-in form's CSRF token
    "POST /signout": _PUBLIC,  # ends whatever session the cookie names
    "POST /workspace": _R,  # the user's own memberships decide
    "GET /": _R,
    "GET /planner": _R,
    "POST /planner/what-if": _W,
    "GET /planner/forecast-status": _R,
    "POST /planner/forecast": _W,
    "POST /planner/recommend": _W,
    "POST /planner/learn": _W,
    "GET /planner/plans/{run_id}.xlsx": _R,
    "GET /knowledge": _R,
    "POST /knowledge": _W,
    "GET /knowledge/{kb}": _R,
    "POST /knowledge/{kb}/documents": _W,
    "GET /knowledge/{kb}/jobs/{job_id}": _R,
    "GET /knowledge/{kb}/jobs/{job_id}/events": _R,  # as GET …/jobs/{job_id}/events
    "GET /knowledge/{kb}/sources": _R,  # as GET …/jobs
    "POST /knowledge/{kb}/sources/crawl": _W,  # as POST …/ingest
    "POST /knowledge/{kb}/sources/git": _W,
    "POST /knowledge/{kb}/sources/{job_id}/sync": _W,
    "GET /knowledge/{kb}/documents/{document_id}": _R,
    "GET /knowledge/{kb}/documents/{document_id}/versions/{version}/content": _R,
    "POST /knowledge/{kb}/documents/{document_id}/delete": _W,
    "GET /knowledge/{kb}/tasks": _R,
    "POST /knowledge/{kb}/tasks": _W,
    "POST /knowledge/{kb}/tasks/{task_id}/status": _W,
    "POST /knowledge/{kb}/tasks/{task_id}/delete": _W,
    "GET /admin/api-keys": _M,
    "GET /admin/audit": _M,  # as GET …/audit
    "POST /admin/api-keys": _M,
    "POST /admin/api-keys/{key_id}/revoke": _M,
    # Orders, catalog, conversations and the operator inbox: the order desk's and the conversation API's rows.
    "GET /orders": _R,
    "GET /orders/delivery-list.xlsx": _R,
    "GET /orders/{number}": _R,
    "POST /orders/{number}/confirm": _W,
    "POST /orders/{number}/change": _W,
    "POST /orders/{number}/cancel": _W,
    "GET /orders/{number}/delivery-order.xlsx": _R,
    "GET /orders/{number}/invoice.pdf": _R,
    "GET /catalog": _R,
    "POST /catalog/import": _W,
    "GET /inbox": _R,
    "POST /inbox/{escalation_id}/take-over": _W,
    "POST /inbox/{escalation_id}/resolve": _W,
    "GET /conversations": _R,
    "GET /conversations/{session_id}": _R,
    "POST /conversations/{session_id}/reply": _W,
}

# Chat playground (the API's rows for the services it calls) and admin (members, providers, usage: manage).
CONSOLE_ACCESS.update(
    {
        "GET /chat": _R,
        "POST /chat/stream": Permission.invoke,  # as POST /v1/chat/completions
        "POST /chat/ask": _R,  # as POST …/knowledge-bases/{kb}/query
        "POST /chat/solution": _W,  # as POST …/conversations/messages: may place or confirm an order
        "GET /chat/passages/{document_id}/{version_id}": _R,
        "GET /admin": _M,
        "POST /admin/members/{user_id}/role": _M,
        "POST /admin/members/{user_id}/remove": _M,
        "POST /admin/invitations/{invitation_id}/cancel": _M,
        "POST /admin/invitations": _M,
    }
)

# Voice desk call records (read only) and the delivery crew's runs: the voice and crew APIs' rows.
CONSOLE_ACCESS.update(
    {
        "GET /calls": _R,  # as GET …/voice/calls
        "GET /calls/{call_id:path}/recording": _W,  # as GET …/voice/calls/{call_id}/recording
        "GET /calls/{call_id:path}": _R,
        "GET /crew": _R,  # as GET …/crew/runs
        "POST /crew/runs": _W,
        "GET /crew/runs/{run_id}": _R,
        "GET /crew/runs/{run_id}/events": _R,  # as GET …/crew/runs/{run_id}/events
        "POST /crew/runs/{run_id}/answer": _W,  # as POST …/crew/runs/{run_id}/approve
        "POST /crew/runs/{run_id}/resume": _W,
    }
)


def console_access(method: str, path: str) -> Permission | Access:
    """What the console route `path` (its template) needs for `method`; unlisted routes are refused to everyone."""
    method = "GET" if method == "HEAD" else method
    access = CONSOLE_ACCESS.get(f"{method} {path}")
    if access is None:
        raise PermissionDenied(f"{method} {path} is not in the console's access table.", code="route_not_in_role_table")
    return access
