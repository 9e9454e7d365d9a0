"""A request the caller got wrong is a 400 and never a provider fault: no tenant can open a breaker for the others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from tests.conftest import Tenant, make_settings, make_tenant
from tests.fakes.openai_server import FakeOpenAI
from tests.gateway.conftest import LiveOpsdesk

SELF_REFERENCE = {"$ref": "#"}
# Passes the up-front check but the local grammar converter refuses it (patterns must be anchored there).
UNANCHORED_PATTERN = {"type": "object", "properties": {"code": {"type": "string", "pattern": "[A-Z]+"}}}


def chat_body(model: str, schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "Say hi"}], **extra}
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    return body


@pytest.fixture
async def local_app(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Tenant, AppContext]]:
    """opsdesk with the local model as its only chat provider, over ASGI."""
    settings = make_settings(database_url, tmp_path, local_llm_enabled=True, local_llm_threads=1)
    context = await AppContext.open(settings, migrate=False)
    tenant = await make_tenant(context, "local")
    transport = httpx.ASGITransport(app=create_app(settings, context=context))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://opsdesk.test", timeout=120) as http:
            yield http, tenant, context
    finally:
        await context.close()


@pytest.mark.slow
async def test_twenty_unusable_schemas_for_the_local_model_are_400s_and_leave_its_breaker_closed(
    local_app: tuple[httpx.AsyncClient, Tenant, AppContext],
) -> None:
    http, tenant, context = local_app
    viewer = tenant.headers(Role.viewer)  # the weakest key that may invoke models

    for i in range(20):
        schema = SELF_REFERENCE if i % 2 == 0 else UNANCHORED_PATTERN
        for model in ("local", "opsdesk"):
            response = await http.post("/v1/chat/completions", json=chat_body(model, schema), headers=viewer)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["type"] == "invalid_request_error" and error["code"] == "invalid_schema"
            assert "schema" in error["message"]

    assert context.providers.chat("local").breaker_state == "closed"
    ok = await http.post("/v1/chat/completions", json=chat_body("local", max_tokens=3), headers=viewer)
    assert ok.status_code == 200, ok.text
    assert ok.json()["choices"][0]["message"]["content"] is not None


async def test_the_self_referencing_schema_is_refused_naming_the_loop(live: LiveOpsdesk, upstream: FakeOpenAI) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        response = await http.post(
            "/v1/chat/completions", json=chat_body("openai", SELF_REFERENCE), headers=live.tenant.headers(Role.viewer)
        )

    assert response.status_code == 400
    assert "$ref loop" in response.json()["error"]["message"]
    assert upstream.count() == 0  # refused before any provider saw it


async def test_twenty_requests_the_upstream_calls_invalid_are_400s_and_leave_its_breaker_closed(
    live: LiveOpsdesk, upstream: FakeOpenAI
) -> None:
    upstream.script(["400"] * 20)
    headers = live.tenant.headers(Role.viewer)

    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        for i in range(20):
            model = "openai" if i % 2 == 0 else "opsdesk"  # the provider itself and the fallback chain
            body = chat_body(model, stream=i % 4 == 1)
            response = await http.post("/v1/chat/completions", json=body, headers=headers)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["type"] == "invalid_request_error"
            assert "fake error 400" in error["message"]
        assert upstream.count() == 20  # never retried, never passed on to another provider

        ok = await http.post("/v1/chat/completions", json=chat_body("openai"), headers=headers)

    assert ok.status_code == 200, ok.text
    assert ok.json()["choices"][0]["message"]["content"] == "Paris is the capital of France."
