"""Shared fixtures: real PostgreSQL (embedded, pgvector), the app context, HTTP clients, Redis."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.auth.roles import Role
from opsdesk.auth.security import issue_token
from opsdesk.core import telemetry
from opsdesk.core.settings import Settings
from tests.support.database import TestDatabases, each_database


@pytest.fixture(scope="session")
def databases() -> Iterator[TestDatabases]:
    dbs = TestDatabases()
    yield dbs
    dbs.close()


@pytest.fixture
def database_url(databases: TestDatabases) -> Iterator[str]:
    yield from each_database(databases)


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": SecretStr(database_url),
        "data_dir": data_dir,
        "secret_key": SecretStr("test-secret-key-that-is-long-enough-for-hs256"),
        "log_json": True,
        "db_pool_size": 5,
        "local_llm_enabled": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for the test, its finished spans kept in memory."""
    exporter = InMemorySpanExporter()
    assert telemetry.configure(None, exporter=exporter)
    yield exporter
    telemetry.shutdown()


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[AppContext]:
    context = await AppContext.open(settings, migrate=False)
    yield context
    await context.close()


@pytest.fixture
async def client(ctx: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings, context=ctx)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://opsdesk.test", timeout=60) as http:
        yield http


@dataclass
class Tenant:
    """A workspace with an admin user, a token for them and keys of each role."""

    slug: str
    workspace_id: Any
    admin_email: str
    admin_password: str
    token: str
    keys: dict[Role, str]

    def headers(self, role: Role | None = None) -> dict[str, str]:
        credential = self.token if role is None else self.keys[role]
        return {"Authorization": f"Bearer {credential}"}


async def make_tenant(ctx: AppContext, slug: str) -> Tenant:
    email, password = f"admin@{slug}.example", "correct horse battery"
    async with ctx.db.session() as session:
        workspace = await auth.create_workspace(session, slug)
        user = await auth.create_user(session, email, password)
        await auth.add_member(session, user, workspace, Role.admin)
        keys = {role: (await auth.create_api_key(session, workspace, f"{role.value} key", role))[0] for role in Role}
        secret = ctx.settings.jwt_secret()
        token = issue_token(secret, user.id, workspace.id, Role.admin, timedelta(minutes=5))
    return Tenant(slug, workspace.id, email, password, token, keys)


@pytest.fixture
async def tenant(ctx: AppContext) -> Tenant:
    return await make_tenant(ctx, "acme")


@pytest.fixture
async def other_tenant(ctx: AppContext) -> Tenant:
    return await make_tenant(ctx, "globex")


def redis_url_or_skip() -> str:
    """Redis for tests: OPSDESK_TEST_REDIS_URL or the local default; missing Redis fails under CI, skips elsewhere."""
    import redis

    url = os.environ.get("OPSDESK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:
        reason = f"Redis not reachable at {url}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()
