"""Admins manage members and invitations over the API: change a role, remove someone (whose token stops at once),
list and cancel open invitations; the last admin stays; other roles and other workspaces are refused."""

from __future__ import annotations

from datetime import timedelta

import httpx

from opsdesk.app.context import AppContext
from opsdesk.auth import invitations
from opsdesk.auth import service as auth
from opsdesk.auth.roles import Role
from opsdesk.auth.security import issue_token
from tests.conftest import Tenant
from tests.support.paging import assert_pages_through


async def _member(ctx: AppContext, tenant: Tenant, email: str, role: Role) -> tuple[str, str]:
    """A user in the tenant's workspace and a token of theirs: (user id, token)."""
    async with ctx.db.session() as session:
        user = await auth.create_user(session, email, "correct horse battery")
        workspace = await auth.get_workspace(session, tenant.slug)
        await auth.add_member(session, user, workspace, role)
        token = issue_token(ctx.settings.jwt_secret(), user.id, workspace.id, role, timedelta(minutes=5))
    return str(user.id), token


async def _admin_id(ctx: AppContext, tenant: Tenant) -> str:
    async with ctx.db.session() as session:
        user = await auth.get_user_by_email(session, tenant.admin_email)
    assert user is not None
    return str(user.id)


async def test_an_admin_changes_a_role_and_removes_a_member_whose_token_then_stops(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    base = f"/api/v1/workspaces/{tenant.slug}"
    user_id, token = await _member(ctx, tenant, "op@acme.example", Role.operator)
    mine = {"Authorization": f"Bearer {token}"}
    assert (await client.get(f"{base}/orders", headers=mine)).status_code == 200

    changed = await client.patch(f"{base}/members/{user_id}", json={"role": "viewer"}, headers=tenant.headers())
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    removed = await client.delete(f"{base}/members/{user_id}", headers=tenant.headers())
    assert removed.status_code == 204

    assert (await client.get(f"{base}/orders", headers=mine)).status_code == 401
    listed = await client.get(f"{base}/members", headers=tenant.headers())
    assert "op@acme.example" not in {m["email"] for m in listed.json()["items"]}
    again = await client.delete(f"{base}/members/{user_id}", headers=tenant.headers())
    assert again.status_code == 404


async def test_members_are_listed_by_email_a_page_at_a_time(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    url = f"/api/v1/workspaces/{tenant.slug}/members"
    await _member(ctx, tenant, "op@acme.example", Role.operator)

    second = await client.get(url, params={"limit": 1, "offset": 1}, headers=tenant.headers())
    too_many = await client.get(url, params={"limit": 201}, headers=tenant.headers())

    assert [m["email"] for m in second.json()["items"]] == ["op@acme.example"]
    assert (second.json()["total"], second.json()["limit"], second.json()["offset"]) == (2, 1, 1)
    assert too_many.status_code == 422


async def test_the_last_admin_can_be_neither_demoted_nor_removed(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    base = f"/api/v1/workspaces/{tenant.slug}"
    admin_id = await _admin_id(ctx, tenant)

    demoted = await client.patch(f"{base}/members/{admin_id}", json={"role": "operator"}, headers=tenant.headers())
    removed = await client.delete(f"{base}/members/{admin_id}", headers=tenant.headers())
    service_role = await client.patch(f"{base}/members/{admin_id}", json={"role": "service"}, headers=tenant.headers())

    assert demoted.status_code == 400 and demoted.json()["error"]["code"] == "last_admin"
    assert removed.status_code == 400 and removed.json()["error"]["code"] == "last_admin"
    assert service_role.status_code == 400

    await _member(ctx, tenant, "second@acme.example", Role.admin)
    assert (await client.delete(f"{base}/members/{admin_id}", headers=tenant.headers(Role.admin))).status_code == 204


async def test_open_invitations_are_listed_and_a_cancelled_one_cannot_be_accepted(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, other_tenant: Tenant
) -> None:
    base = f"/api/v1/workspaces/{tenant.slug}"
    await client.post(
        f"{base}/members", json={"email": "Later@Acme.Example", "role": "operator"}, headers=tenant.headers()
    )
    [invitation] = (await client.get(f"{base}/invitations", headers=tenant.headers())).json()["items"]
    assert invitation["email"] == "later@acme.example" and invitation["role"] == "operator"

    cancelled = await client.delete(f"{base}/invitations/{invitation['id']}", headers=tenant.headers())
    assert cancelled.status_code == 204
    assert (await client.get(f"{base}/invitations", headers=tenant.headers())).json()["items"] == []

    _, token = await _member(ctx, other_tenant, "later@acme.example", Role.viewer)  # signed in elsewhere
    theirs = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/invitations", headers=theirs)).json()["items"] == []
    accept = await client.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=theirs)
    assert accept.status_code == 404


async def test_open_invitations_made_at_one_instant_are_listed_a_page_at_a_time(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    async with ctx.db.session() as session:
        workspace = await auth.get_workspace(session, tenant.slug)
        made = [
            await invitations.invite(session, workspace, f"new{n}@acme.example", Role.viewer, None) for n in range(5)
        ]
        for invitation in made:  # one created_at for all: only the id can order them
            invitation.created_at = made[0].created_at
    by_id = sorted(made, key=lambda invitation: invitation.id)

    await assert_pages_through(
        client,
        f"/api/v1/workspaces/{tenant.slug}/invitations",
        tenant.headers(),
        key="email",
        expected=[invitation.email for invitation in by_id],
    )


async def test_other_roles_and_other_workspaces_are_refused(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, other_tenant: Tenant
) -> None:
    base = f"/api/v1/workspaces/{tenant.slug}"
    user_id, _ = await _member(ctx, tenant, "op@acme.example", Role.operator)
    for role in (Role.operator, Role.viewer, Role.service):
        refused = await client.delete(f"{base}/members/{user_id}", headers=tenant.headers(role))
        assert refused.status_code == 403
    stranger = await client.delete(f"/api/v1/workspaces/{other_tenant.slug}/members/{user_id}",
                                   headers=other_tenant.headers())  # fmt: skip
    assert stranger.status_code == 404  # not a member there
    assert (await client.get(f"{base}/invitations", headers=other_tenant.headers())).status_code == 403
