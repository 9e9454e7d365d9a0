"""The audit log: every accepted change by a member or an API key is one row (who, what, which record, safe details,
the request id); refused requests, reads and customer traffic are not; only admins read it, per workspace."""

from __future__ import annotations

from typing import Any

import httpx

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from tests.conftest import Tenant


def _audit(tenant: Tenant) -> str:
    return f"/api/v1/workspaces/{tenant.slug}/audit"


async def _events(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    answer = await client.get(_audit(tenant), params=params, headers=tenant.headers())
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_admin_changes_are_recorded_with_who_what_and_the_request_id(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    base = f"/api/v1/workspaces/{tenant.slug}"
    created = await client.post(
        f"{base}/api-keys", json={"name": "reporting", "role": "viewer"}, headers=tenant.headers()
    )
    key_id = created.json()["id"]
    revoked = await client.delete(f"{base}/api-keys/{key_id}", headers=tenant.headers())
    invited = await client.post(f"{base}/members", json={"email": "new@acme.example", "role": "operator"},
                                headers=tenant.headers())  # fmt: skip
    patched = await client.patch(f"{base}/settings", json={"currency": "NZD"}, headers=tenant.headers())
    assert (created.status_code, revoked.status_code, invited.status_code, patched.status_code) == (201, 200, 202, 200)

    events = await _events(client, tenant)

    assert [e["action"] for e in events] == ["patch_settings", "invite_member", "revoke_api_key", "create_api_key"]
    assert {e["actor"] for e in events} == {tenant.admin_email}
    create, revoke = events[3], events[2]
    assert create["details"] == {"name": "reporting", "role": "viewer"} and "key" not in str(create["details"])
    assert revoke["target"] == {"key_id": key_id}
    assert revoke["route"] == "DELETE /api/v1/workspaces/{workspace}/api-keys/{key_id}"
    assert revoke["request_id"] == revoked.headers["x-request-id"]
    assert events[1]["details"] == {"email": "new@acme.example", "role": "operator"}
    assert events[0]["details"] == {"changed": "currency"}
    middle = await client.get(_audit(tenant), params={"limit": 2, "offset": 1}, headers=tenant.headers())
    assert [e["action"] for e in middle.json()["items"]] == ["invite_member", "revoke_api_key"]
    assert (middle.json()["total"], middle.json()["limit"], middle.json()["offset"]) == (4, 2, 1)


async def test_refused_requests_reads_and_customer_messages_are_not_recorded(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    base = f"/api/v1/workspaces/{tenant.slug}"
    refused = await client.post(f"{base}/api-keys", json={"name": "x"}, headers=tenant.headers(Role.viewer))
    invalid = await client.post(f"{base}/api-keys", json={"name": ""}, headers=tenant.headers())
    read = await client.get(f"{base}/api-keys", headers=tenant.headers())
    message = await client.post(
        f"{base}/conversations/messages",
        json={"sender": "u-1", "text": "What are your opening hours?"},
        headers=tenant.headers(Role.operator),
    )
    assert (refused.status_code, invalid.status_code, read.status_code) == (403, 422, 200)
    assert message.status_code == 200, message.text

    assert await _events(client, tenant) == []


async def test_a_change_made_with_an_api_key_names_the_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    base = f"/api/v1/workspaces/{tenant.slug}"
    answer = await client.post(
        f"{base}/members", json={"email": "ops@acme.example", "role": "viewer"}, headers=tenant.headers(Role.admin)
    )
    assert answer.status_code == 202

    [event] = await _events(client, tenant)
    assert event["actor"] == "API key admin key" and event["actor_kind"] == "api_key"


async def test_only_admins_read_the_log_and_only_their_workspace(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, other_tenant: Tenant
) -> None:
    await client.patch(f"/api/v1/workspaces/{tenant.slug}/settings", json={"currency": "NZD"}, headers=tenant.headers())

    for role in (Role.operator, Role.viewer, Role.service):
        assert (await client.get(_audit(tenant), headers=tenant.headers(role))).status_code == 403
    assert (await client.get(_audit(tenant), headers=other_tenant.headers())).status_code == 403
    assert await _events(client, other_tenant) == []
    assert len(await _events(client, tenant, actor="admin@acme", action="patch")) == 1
    assert await _events(client, tenant, action="revoke") == []
