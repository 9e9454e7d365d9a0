"""Members join a workspace by accepting an invitation; an admin cannot reach into another workspace's users."""

from __future__ import annotations

from typing import Any

import httpx

from opsdesk.app.context import AppContext
from opsdesk.auth import invitations
from opsdesk.auth import service as auth
from opsdesk.auth.roles import Role
from tests.conftest import Tenant
from tests.support.paging import assert_pages_through


async def _sign_in(client: httpx.AsyncClient, email: str, password: str, workspace: str | None = None) -> Any:
    body = {"email": email, "password": password, **({"workspace": workspace} if workspace else {})}
    return await client.post("/api/v1/auth/token", json=body)


async def test_inviting_another_workspaces_user_neither_adds_them_nor_tells_the_admin_they_exist(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    members = f"/api/v1/workspaces/{tenant.slug}/members"
    existing = await client.post(
        members, json={"email": other_tenant.admin_email, "role": "operator"}, headers=tenant.headers()
    )
    unknown = await client.post(
        members, json={"email": "nobody@nowhere.example", "role": "operator"}, headers=tenant.headers()
    )

    assert existing.status_code == unknown.status_code == 202, existing.text
    assert existing.json()["status"] == unknown.json()["status"] == "invitation_sent"
    assert set(existing.json()) == set(unknown.json()) == {"status", "email", "role", "expires_at"}
    listed = (await client.get(members, headers=tenant.headers())).json()
    assert [item["email"] for item in listed["items"]] == [tenant.admin_email]
    signed_in = await _sign_in(client, other_tenant.admin_email, other_tenant.admin_password)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["workspace"] == other_tenant.slug and tenant.slug not in signed_in.text


async def test_the_invited_user_accepts_and_then_signs_in_to_the_new_workspace(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    invited = await client.post(
        f"/api/v1/workspaces/{tenant.slug}/members",
        json={"email": other_tenant.admin_email.upper(), "role": "operator"},
        headers=tenant.headers(),
    )
    assert invited.status_code == 202, invited.text
    pending = await client.get("/api/v1/invitations", headers=other_tenant.headers())
    assert pending.status_code == 200, pending.text
    [invitation] = pending.json()["items"]
    assert invitation["workspace"] == tenant.slug and invitation["role"] == "operator"

    stranger = await client.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=tenant.headers())
    by_key = await client.post(
        f"/api/v1/invitations/{invitation['id']}/accept", headers=other_tenant.headers(Role.admin)
    )
    accepted = await client.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=other_tenant.headers())

    assert stranger.status_code == 404, "an invitation to someone else does not exist for you"
    assert by_key.status_code == 403 and by_key.json()["error"]["code"] == "not_a_user"
    assert accepted.status_code == 200 and accepted.json() == {"workspace": tenant.slug, "role": "operator"}
    assert (await client.get("/api/v1/invitations", headers=other_tenant.headers())).json()["items"] == []
    login = await _sign_in(client, other_tenant.admin_email, other_tenant.admin_password, tenant.slug)
    assert login.status_code == 200 and login.json()["role"] == "operator"
    again = await client.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=other_tenant.headers())
    assert again.status_code == 200, "accepting twice changes nothing"


async def test_a_viewer_cannot_invite(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        f"/api/v1/workspaces/{tenant.slug}/members",
        json={"email": "x@acme.example"},
        headers=tenant.headers(Role.viewer),
    )
    assert response.status_code == 403


async def test_a_users_invitations_from_many_workspaces_are_listed_a_page_at_a_time(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, other_tenant: Tenant
) -> None:
    async with ctx.db.session() as session:
        workspaces = [await auth.create_workspace(session, f"team-{n}") for n in range(4)]
        made = [await invitations.invite(session, ws, other_tenant.admin_email, Role.viewer, None) for ws in workspaces]
        for invitation in made[1:]:  # one created_at for all: only the id can order them
            invitation.created_at = made[0].created_at
    slug_of = {ws.id: ws.slug for ws in workspaces}

    await assert_pages_through(
        client,
        "/api/v1/invitations",
        other_tenant.headers(),
        key="workspace",
        expected=[slug_of[invitation.workspace_id] for invitation in sorted(made, key=lambda i: i.id)],
    )
