"""Tokens, API keys, roles and workspaces over HTTP against real PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from opsdesk.app.context import AppContext
from opsdesk.auth.models import ApiKey
from opsdesk.auth.roles import Role
from opsdesk.auth.security import issue_token
from opsdesk.auth.service import api_key_cache
from opsdesk.db.idempotency import IdempotencyRecord
from tests.conftest import Tenant


async def test_password_login_returns_a_token_that_identifies_the_user(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/api/v1/auth/token", json={"email": tenant.admin_email, "password": tenant.admin_password}
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["workspace"] == "acme"
    assert me.json()["role"] == "admin"
    assert me.json()["kind"] == "user"


async def test_the_first_admins_on_premises_address_signs_in(
    client: httpx.AsyncClient, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`opsdesk up` creates admin@opsdesk.local; `.local` is special-use to email-validator but a real address here."""
    from opsdesk.app.bootstrap import ensure_first_admin

    monkeypatch.setattr(ctx.settings, "admin_password", SecretStr("a first admin password"))
    await ensure_first_admin(ctx.db, ctx.settings)
    body = {"email": "Admin@OpsDesk.local", "password": "a first admin password"}
    response = await client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    for bad in ("admin", "admin@", "admin@-opsdesk-.local", "ad min@opsdesk.local"):
        refused = await client.post("/api/v1/auth/token", json={**body, "email": bad})
        assert refused.status_code == 422, bad


async def test_a_generated_first_admin_password_is_written_only_for_its_owner_even_before_the_data_dir_exists(
    client: httpx.AsyncClient, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an external database (OPSDESK_DATABASE_URL) nothing creates the data directory before the first admin."""
    import stat

    from opsdesk.app.bootstrap import ensure_first_admin

    monkeypatch.setattr(ctx.settings, "data_dir", tmp_path / "not-yet" / "var")
    password = await ensure_first_admin(ctx.db, ctx.settings)
    written = tmp_path / "not-yet" / "var" / "admin-password"
    assert password and written.read_text(encoding="utf-8") == password + "\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    body = {"email": ctx.settings.admin_email, "password": password}
    assert (await client.post("/api/v1/auth/token", json=body)).status_code == 200


async def test_wrong_password_is_401_with_a_clear_code(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/api/v1/auth/token", json={"email": tenant.admin_email, "password": "nope-nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert response.json()["request_id"].startswith("req_")


async def test_expired_token_is_refused(client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant) -> None:
    async with ctx.db.session() as session:
        from opsdesk.auth import service

        user = await service.get_user_by_email(session, tenant.admin_email)
    assert user is not None
    expired = issue_token(ctx.settings.jwt_secret(), user.id, tenant.workspace_id, Role.admin, timedelta(seconds=-10))
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


async def test_forged_token_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    claims = jwt.decode(tenant.token, options={"verify_signature": False})
    claims["role"] = "admin"
    forged = jwt.encode(claims, "not-the-server-secret-but-long-enough-32b", algorithm="HS256")
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    none_alg = (
        jwt.encode(claims, key="", algorithm="none") if "none" in jwt.algorithms.get_default_algorithms() else "a.b."
    )
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {none_alg}"})
    assert response.status_code == 401


async def test_missing_and_malformed_credentials_are_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/auth/me")).json()["error"]["code"] == "missing_credentials"
    response = await client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    response = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer odk_unknown"})
    assert response.json()["error"]["code"] == "invalid_api_key"


async def test_api_key_lifecycle_create_use_revoke(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post(
        f"/api/v1/workspaces/{tenant.slug}/api-keys", json={"name": "ci", "role": "viewer"}, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["id"]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["role"] == "viewer"
    listed = await client.get(f"/api/v1/workspaces/{tenant.slug}/api-keys", headers=tenant.headers())
    entry = next(item for item in listed.json()["items"] if item["id"] == key_id)
    assert entry["last_used_at"] is not None
    assert "key" not in entry
    revoked = await client.delete(f"/api/v1/workspaces/{tenant.slug}/api-keys/{key_id}", headers=tenant.headers())
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "api_key_revoked"


async def test_a_new_api_keys_secret_never_reaches_the_logs(
    client: httpx.AsyncClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (opsdesk_handler,) = [handler for handler in logging.getLogger().handlers if handler.get_name() == "opsdesk"]
    rendered = io.StringIO()  # the lines as opsdesk writes them, after its processors and renderer
    capture = logging.StreamHandler(rendered)
    capture.setFormatter(opsdesk_handler.formatter)
    capture.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(capture)
    try:
        url = f"/api/v1/workspaces/{tenant.slug}/api-keys"
        created = await client.post(
            url, json={"name": "ci", "role": "viewer"}, headers={**tenant.headers(), "Idempotency-Key": "one-key"}
        )
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["id"]
        replayed = await client.post(
            url, json={"name": "ci", "role": "viewer"}, headers={**tenant.headers(), "Idempotency-Key": "one-key"}
        )
        assert replayed.status_code == 409, replayed.text
        for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
            assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
        assert (await client.get(f"/api/v1/workspaces/{tenant.slug}/nothing-here", headers=headers)).status_code == 404
        assert (await client.post(url, json={"name": "ci", "role": "admin"}, headers=headers)).status_code == 403
        assert (await client.delete(f"{url}/{key_id}", headers=tenant.headers())).status_code == 200
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    finally:
        logging.getLogger().removeHandler(capture)
    logged = rendered.getvalue() + caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    assert logged.count("/api-keys") >= 4, "the requests were logged"
    secret = key.removeprefix(key[:12])  # the display prefix is shown in lists by design; the rest never
    assert secret not in logged


async def test_api_keys_are_listed_a_page_at_a_time(client: httpx.AsyncClient, tenant: Tenant) -> None:
    url = f"/api/v1/workspaces/{tenant.slug}/api-keys"

    last = await client.get(url, params={"limit": 1, "offset": len(Role) - 1}, headers=tenant.headers())
    past_the_end = await client.get(url, params={"offset": len(Role)}, headers=tenant.headers())
    bad = [await client.get(url, params={name: value}, headers=tenant.headers()) for name, value in
           (("limit", 0), ("limit", 201), ("offset", -1), ("offset", 1_000_001))]  # fmt: skip

    assert len(last.json()["items"]) == 1
    assert (last.json()["total"], last.json()["limit"], last.json()["offset"]) == (len(Role), 1, len(Role) - 1)
    assert past_the_end.json()["items"] == [] and past_the_end.json()["total"] == len(Role)
    assert [response.status_code for response in bad] == [422] * 4


async def test_api_keys_are_stored_hashed(ctx: AppContext, tenant: Tenant) -> None:
    from sqlalchemy import select

    from opsdesk.auth.models import ApiKey

    async with ctx.db.session() as session:
        hashes = list(await session.scalars(select(ApiKey.key_hash)))
    assert hashes
    assert all(key not in hashes for key in tenant.keys.values())


async def test_viewer_may_not_manage_keys(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        f"/api/v1/workspaces/{tenant.slug}/api-keys", json={"name": "x"}, headers=tenant.headers(Role.viewer)
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"


async def test_credentials_of_one_workspace_cannot_reach_another(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    for headers in (tenant.headers(), tenant.headers(Role.admin)):
        response = await client.get(f"/api/v1/workspaces/{other_tenant.slug}/api-keys", headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "wrong_workspace"
    login = await client.post(
        "/api/v1/auth/token",
        json={"email": tenant.admin_email, "password": tenant.admin_password, "workspace": other_tenant.slug},
    )
    assert login.status_code == 403


async def test_idempotency_key_replays_the_first_creation(client: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = {**tenant.headers(), "Idempotency-Key": "create-outlet-1"}
    url = f"/api/v1/workspaces/{tenant.slug}/catalog/outlets"
    first = await client.post(url, json={"code": "ONCE-1", "name": "Once"}, headers=headers)
    second = await client.post(url, json={"code": "ONCE-1", "name": "Once"}, headers=headers)
    assert first.status_code == second.status_code == 201, first.text
    assert first.json() == second.json()
    clash = await client.post(url, json={"code": "ONCE-2", "name": "Twice"}, headers=headers)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "idempotency_mismatch"


async def test_a_created_api_key_is_never_stored_for_replay_nor_shown_again(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant
) -> None:
    headers = {**tenant.headers(), "Idempotency-Key": "create-ci-key-1"}
    url = f"/api/v1/workspaces/{tenant.slug}/api-keys"
    first = await client.post(url, json={"name": "once"}, headers=headers)
    replay = await client.post(url, json={"name": "once"}, headers=headers)

    assert first.status_code == 201, first.text
    key = first.json()["key"]
    async with ctx.db.session() as session:
        stored = list(await session.scalars(select(IdempotencyRecord.response)))
    assert stored and not any(key.encode() in response for response in stored)
    assert replay.status_code == 409, replay.text
    error = replay.json()["error"]
    assert error["code"] == "idempotent_secret_not_replayable"
    assert error["details"]["id"] == first.json()["id"], "the replay says which key was created, to revoke it"
    assert key not in replay.text
    listed = await client.get(url, headers=tenant.headers())
    assert sum(1 for item in listed.json()["items"] if item["name"] == "once") == 1


async def test_a_key_revoked_elsewhere_lapses_after_the_cache_ttl(
    client: httpx.AsyncClient, ctx: AppContext, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process revokes the key in the database: past its TTL the cached key is served stale at most while
    one background lookup runs, then refused."""
    monkeypatch.setattr(api_key_cache, "ttl_s", 1.0)
    created = await client.post(
        f"/api/v1/workspaces/{tenant.slug}/api-keys",
        json={"name": "elsewhere", "role": "viewer"},
        headers=tenant.headers(),
    )
    key, key_id = created.json()["key"], created.json()["id"]
    auth = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/auth/me", headers=auth)).status_code == 200
    async with ctx.db.session() as session:
        await session.execute(update(ApiKey).where(ApiKey.id == uuid.UUID(key_id)).values(revoked_at=datetime.now(UTC)))
    # Within the TTL the cached key may still serve, or not (the cache serves nothing while its revocation
    # listener is still connecting); past it, it must be refused.
    await client.get("/api/v1/auth/me", headers=auth)
    await asyncio.sleep(1.2)
    statuses = [(await client.get("/api/v1/auth/me", headers=auth)).status_code]
    for _ in range(40):
        statuses.append((await client.get("/api/v1/auth/me", headers=auth)).status_code)
        if statuses[-1] == 401:
            break
        await asyncio.sleep(0.05)
    assert statuses[-1] == 401
    assert statuses.count(200) <= len(statuses) - 1


async def test_one_background_refresh_per_key_at_a_time() -> None:
    runs: list[str] = []
    release = asyncio.Event()

    async def refresh() -> None:
        runs.append("run")
        await release.wait()

    api_key_cache.refresh_in_background("k1", refresh)
    api_key_cache.refresh_in_background("k1", refresh)
    await asyncio.sleep(0)
    assert runs == ["run"]
    release.set()
    await asyncio.sleep(0.01)
    api_key_cache.refresh_in_background("k1", refresh)
    await asyncio.sleep(0)
    assert runs == ["run", "run"], "a finished refresh does not block the next one"
