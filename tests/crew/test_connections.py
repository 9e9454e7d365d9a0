"""The crew's vendor connections over the API: admins only, validated, the token encrypted at rest and never
shown again; a live check against the local vendors."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.crew.connections.models import CrewConnection
from opsdesk.crew.connections.secrets import TokenCipher, TokenUnreadable
from opsdesk.crew.connections.service import Connectors, get_connection
from opsdesk.crew.connectors import JiraConnector
from opsdesk.crew.demo.servers import ConfluenceServer, GitLabServer, JiraServer
from tests.conftest import Tenant
from tests.crew.conftest import TOKEN
from tests.support.paging import assert_pages_through

_BASE = "/api/v1/workspaces/{slug}/crew/connections"


def _url(tenant: Tenant, suffix: str = "") -> str:
    return _BASE.format(slug=tenant.slug) + suffix


async def test_admin_connects_jira_and_the_token_is_stored_encrypted_and_never_shown(
    client: httpx.AsyncClient,
    tenant: Tenant,
    ctx: AppContext,
    jira_server: JiraServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"base_url": jira_server.url + "/", "username": "opsdesk", "token": TOKEN, "scope": "DEMO"}

    created = await client.put(_url(tenant, "/jira"), json=body, headers=tenant.headers())
    listed = await client.get(_url(tenant), headers=tenant.headers())
    check = await client.post(_url(tenant, "/jira/check"), headers=tenant.headers())

    assert created.status_code == 201, created.text
    assert created.json()["token_set"] is True and created.json()["base_url"] == jira_server.url
    assert [row["vendor"] for row in listed.json()["items"]] == ["jira"]
    assert check.json() == {"vendor": "jira", "ok": True, "detail": "Jira project DEMO (Demo project)"}
    for answer in (created, listed, check):
        assert TOKEN not in answer.text
    assert TOKEN not in caplog.text
    async with ctx.db.session() as session:
        row = await session.scalar(select(CrewConnection).where(CrewConnection.workspace_id == tenant.workspace_id))
    assert row is not None and TOKEN not in row.token_encrypted
    assert TokenCipher(ctx.settings.jwt_secret()).decrypt(row.token_encrypted).get_secret_value() == TOKEN


async def test_an_update_without_a_token_keeps_the_stored_one(
    client: httpx.AsyncClient, tenant: Tenant, gitlab_server: GitLabServer
) -> None:
    first = {"base_url": gitlab_server.url, "token": TOKEN, "scope": "opsdesk/demo"}
    await client.put(_url(tenant, "/gitlab"), json=first, headers=tenant.headers())

    updated = await client.put(
        _url(tenant, "/gitlab"), json={"base_url": gitlab_server.url, "scope": "opsdesk/demo"}, headers=tenant.headers()
    )
    check = await client.post(_url(tenant, "/gitlab/check"), headers=tenant.headers())

    assert updated.status_code == 200 and updated.json()["token_set"] is True
    assert check.json()["ok"] is True and "opsdesk/demo" in check.json()["detail"]


async def test_a_check_with_a_wrong_token_says_the_vendor_refused_it(
    client: httpx.AsyncClient, tenant: Tenant, confluence_server: ConfluenceServer
) -> None:
    body = {"base_url": confluence_server.url, "username": "opsdesk", "token": "not-the-token", "scope": "DEMO"}
    await client.put(_url(tenant, "/confluence"), json=body, headers=tenant.headers())

    check = await client.post(_url(tenant, "/confluence/check"), headers=tenant.headers())

    assert check.status_code == 200
    assert check.json()["ok"] is False and "refused the credentials or permission (401)" in check.json()["detail"]
    assert "not-the-token" not in check.text


async def test_a_new_connection_needs_a_token_and_a_check_needs_a_scope(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    no_token = await client.put(
        _url(tenant, "/jira"), json={"base_url": "https://acme.atlassian.net"}, headers=tenant.headers()
    )
    await client.put(
        _url(tenant, "/jira"), json={"base_url": "https://acme.atlassian.net", "token": "t"}, headers=tenant.headers()
    )
    no_scope = await client.post(_url(tenant, "/jira/check"), headers=tenant.headers())

    assert (no_token.status_code, no_token.json()["error"]["code"]) == (400, "token_required")
    assert (no_scope.status_code, no_scope.json()["error"]["code"]) == (400, "scope_required")


@pytest.mark.parametrize(
    "body",
    [
        {"base_url": "ftp://files.example.com", "token": "t"},
        {"base_url": "javascript:alert(1)", "token": "t"},
        {"base_url": "https://user:secret@acme.atlassian.net", "token": "t"},
        {"base_url": "https://acme.atlassian.net/a\x00b", "token": "t"},
        {"base_url": "https://acme\x07.atlassian.net", "token": "t"},
        {"base_url": "https://acme.atlassian.net", "token": "has space"},
        {"base_url": "https://acme.atlassian.net", "token": "t", "username": "a:b"},
        {"base_url": "https://acme.atlassian.net", "token": "t", "scope": "../etc"},
        {"base_url": "https://acme.atlassian.net", "token": "t", "extra": 1},
    ],
)
async def test_bad_connections_are_refused_with_422(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, object]
) -> None:
    answer = await client.put(_url(tenant, "/jira"), json=body, headers=tenant.headers())
    assert answer.status_code == 422
    assert "secret" not in answer.text


async def test_an_unknown_vendor_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    answer = await client.put(
        _url(tenant, "/bitbucket"), json={"base_url": "https://x.org", "token": "t"}, headers=tenant.headers()
    )
    assert answer.status_code == 422


@pytest.mark.parametrize("role", [Role.operator, Role.viewer, Role.service])
async def test_only_admins_see_or_change_connections(client: httpx.AsyncClient, tenant: Tenant, role: Role) -> None:
    body = {"base_url": "https://acme.atlassian.net", "token": "t"}
    assert (await client.put(_url(tenant, "/jira"), json=body, headers=tenant.headers(role))).status_code == 403
    assert (await client.get(_url(tenant), headers=tenant.headers(role))).status_code == 403


async def test_another_workspace_cannot_reach_them(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    body = {"base_url": "https://acme.atlassian.net", "token": "t"}
    await client.put(_url(tenant, "/jira"), json=body, headers=tenant.headers())

    assert (await client.get(_url(tenant, "/jira"), headers=other_tenant.headers())).status_code == 403
    assert (await client.get(_url(other_tenant, "/jira"), headers=other_tenant.headers())).status_code == 404


async def test_delete_forgets_the_connection(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"base_url": "https://gitlab.example.com", "token": "t"}
    await client.put(_url(tenant, "/gitlab"), json=body, headers=tenant.headers())

    assert (await client.delete(_url(tenant, "/gitlab"), headers=tenant.headers())).status_code == 204
    assert (await client.get(_url(tenant, "/gitlab"), headers=tenant.headers())).status_code == 404
    assert (await client.delete(_url(tenant, "/gitlab"), headers=tenant.headers())).status_code == 404


async def test_the_connections_are_listed_by_vendor_a_page_at_a_time(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for vendor in ("jira", "gitlab", "confluence"):
        body = {"base_url": f"https://{vendor}.example.com", "token": "t"}
        assert (await client.put(_url(tenant, f"/{vendor}"), json=body, headers=tenant.headers())).status_code == 201

    await assert_pages_through(
        client, _url(tenant), tenant.headers(), key="vendor", expected=["confluence", "gitlab", "jira"]
    )


def test_a_token_saved_under_another_secret_key_is_a_clear_error() -> None:
    stored = TokenCipher("first secret key, long enough").encrypt(TOKEN)
    with pytest.raises(TokenUnreadable, match="enter it again"):
        TokenCipher("second secret key, also long").decrypt(stored)


async def test_the_process_keeps_one_connector_per_connection_until_it_changes(
    client: httpx.AsyncClient, tenant: Tenant, ctx: AppContext, jira_server: JiraServer
) -> None:
    body = {"base_url": jira_server.url, "username": "opsdesk", "token": TOKEN, "scope": "DEMO"}
    await client.put(_url(tenant, "/jira"), json=body, headers=tenant.headers())
    connectors = Connectors(TokenCipher(ctx.settings.jwt_secret()))
    try:
        async with ctx.db.session() as session:
            row = await get_connection(session, tenant.workspace_id, "jira")
            first, again = await connectors.get(row), await connectors.get(row)
        await client.put(_url(tenant, "/jira"), json={**body, "scope": "OTHER"}, headers=tenant.headers())
        async with ctx.db.session() as session:
            changed = await connectors.get(await get_connection(session, tenant.workspace_id, "jira"))
        assert first is again and changed is not first
        assert isinstance(changed, JiraConnector) and (await changed.project("DEMO")).key == "DEMO"
    finally:
        await connectors.aclose()
