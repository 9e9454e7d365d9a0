"""Rate limits per API key and per user; Redis when configured, memory when Redis goes away."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.core.ratelimit import RateLimiter
from opsdesk.core.settings import Settings
from tests.conftest import Tenant, make_settings, make_tenant
from tests.support.live_server import free_port


async def test_api_key_over_its_limit_gets_429_with_retry_after(ctx: AppContext, tenant: Tenant) -> None:
    ctx.settings.rate_limit_per_key = "3/minute"
    app = create_app(ctx.settings, context=ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        statuses = [
            (await http.get("/api/v1/auth/me", headers=tenant.headers(Role.viewer))).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        refused = await http.get("/api/v1/auth/me", headers=tenant.headers(Role.viewer))
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"]["type"] == "rate_limit_error"
        other_key = await http.get("/api/v1/auth/me", headers=tenant.headers(Role.service))
        assert other_key.status_code == 200


async def test_limits_are_shared_through_redis(redis_url: str) -> None:
    first, second = RateLimiter(redis_url), RateLimiter(redis_url)
    key = f"shared-{asyncio.get_running_loop().time()}"
    await first.hit("test", key, "2/minute")
    await second.hit("test", key, "2/minute")
    assert first.backend == "redis"
    with pytest.raises(Exception) as refused:
        await first.hit("test", key, "2/minute")
    assert getattr(refused.value, "status_code", None) == 429


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis server of this test's own, so it can be stopped mid-test."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            import time

            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", process
    process.kill()
    process.wait()


async def test_redis_stopping_mid_test_degrades_to_memory_and_requests_still_succeed(
    database_url: str, tmp_path: Path, own_redis: tuple[str, subprocess.Popen[bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    url, process = own_redis
    settings: Settings = make_settings(database_url, tmp_path, redis_url=SecretStr(url))
    ctx = await AppContext.open(settings, migrate=False)
    try:
        tenant = await make_tenant(ctx, "redisco")
        app = create_app(settings, context=ctx)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            assert (await http.get("/api/v1/auth/me", headers=tenant.headers(Role.viewer))).status_code == 200
            assert ctx.limiter.backend == "redis"
            process.kill()
            process.wait()
            with caplog.at_level(logging.WARNING):
                for _ in range(3):
                    response = await http.get("/api/v1/auth/me", headers=tenant.headers(Role.viewer))
                    assert response.status_code == 200
            assert ctx.limiter.backend == "memory"
            assert any("rate_limit_degraded_to_memory" in record.getMessage() for record in caplog.records)
    finally:
        await ctx.close()
