"""API keys: list, create (the key is shown once, on the answer to the create form) and revoke; admins only."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Form
from starlette.responses import RedirectResponse, Response

from opsdesk.auth import service as auth
from opsdesk.auth.audit import service as audit
from opsdesk.auth.models import ApiKey
from opsdesk.auth.roles import Role
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render

router = page_router()
_PAGE = 200


def _key(record: ApiKey) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "role": record.role,
        "created_at": record.created_at,
        "last_used_at": record.last_used_at,
        "revoked_at": record.revoked_at,
    }


async def _page(c: Console, created: dict[str, Any] | None = None, status: int = 200) -> Response:
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        records, total = await auth.list_api_keys(db, principal.workspace_id, _PAGE, 0, include_revoked=True)
    data = {"keys": [_key(r) for r in records], "total": total, "roles": [r.value for r in Role], "created": created}
    return render(c, "api_keys.html", data, status=status)


@router.get("/admin/api-keys")
async def api_keys_page(c: Console = PageConsole) -> Response:
    """The workspace's keys, revoked ones included (with when)."""
    return await _page(c)


@router.post("/admin/api-keys")
async def create_key(
    name: str = Form(..., min_length=1, max_length=100), role: Role = Form(Role.viewer), c: Console = PageConsole
) -> Response:
    """Creates a key and shows it in this answer only (the page is not cached; reloading shows the list)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        workspace = await auth.get_workspace(db, principal.workspace_slug)
        key, record = await auth.create_api_key(db, workspace, name.strip(), role, principal.subject_id)
        created = {"key": key, **_key(record)}
        audit.note(c.request, name=record.name, role=record.role)
    return await _page(c, created, status=201)


@router.post("/admin/api-keys/{key_id}/revoke")
async def revoke_key(key_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """Revokes at once, in every process (as DELETE …/api-keys/{id} does)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        await auth.revoke_and_wait(db, c.ctx.extras, c.ctx.db.url, principal.workspace_id, key_id)
    return RedirectResponse("/admin/api-keys", status_code=303)
