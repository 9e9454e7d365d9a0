"""Bad input gets a clear 4xx JSON error with a request id, never a 5xx."""

from __future__ import annotations

import httpx

from opsdesk.auth.roles import Role
from tests.conftest import Tenant


async def test_malformed_json_is_400_invalid_json(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/chat/completions",
        content=b'{"model": "opsdesk", "messages": [',
        headers={**tenant.headers(Role.service), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert response.headers["x-request-id"] == response.json()["request_id"]


async def test_wrong_types_are_422_naming_the_field(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "opsdesk", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"},
        headers=tenant.headers(Role.service),
    )
    assert response.status_code == 422
    assert "temperature" in response.json()["error"]["message"]


async def test_empty_messages_are_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"model": "opsdesk", "messages": []}, headers=tenant.headers(Role.service)
    )
    assert response.status_code == 422


async def test_oversized_body_is_413(client: httpx.AsyncClient, tenant: Tenant) -> None:
    big = "x" * (client_limit := 1_048_576 + 10)
    assert client_limit
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "opsdesk", "messages": [{"role": "user", "content": big}]},
        headers=tenant.headers(Role.service),
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


async def test_oversized_body_without_content_length_is_413(client: httpx.AsyncClient, tenant: Tenant) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65_536

    response = await client.post(
        "/v1/chat/completions",
        content=chunks(),
        headers={**tenant.headers(Role.service), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_unknown_model_is_404_model_not_found(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "gpt-17-ultra", "messages": [{"role": "user", "content": "hi"}]},
        headers=tenant.headers(Role.service),
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


async def test_unknown_route_and_method_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = await client.delete("/healthz")
    assert wrong.status_code == 405


async def test_health_ready_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] is True
    metrics = await client.get("/metrics")
    assert "opsdesk_http_requests_total" in metrics.text


async def test_control_characters_in_a_path_or_query_are_422_never_500(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    base = f"/api/v1/workspaces/{tenant.slug}"
    for path in (
        f"{base}/orders/%00",
        f"{base}/orders/ORD-1%00/invoice.pdf",
        f"{base}/catalog/products/%00",
        f"{base}/catalog/outlets/A%01B",
        f"{base}/catalog/rules/%7F",
        f"{base}/orders?outlet=%00",
        f"{base}/conversations/sessions?sender=x%1b[2J",
    ):
        response = await client.get(path, headers=tenant.headers(Role.viewer))
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "control_character", path
    deleted = await client.delete(f"{base}/catalog/products/%00", headers=tenant.headers(Role.operator))
    assert deleted.status_code == 422


async def test_control_characters_in_an_api_key_name_are_422_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    url = f"/api/v1/workspaces/{tenant.slug}/api-keys"
    for name in ("ci\x00key", "bell\x07", "esc\x1b[31m"):
        response = await client.post(url, json={"name": name}, headers=tenant.headers())
        assert response.status_code == 422, response.text
        assert "name" in response.json()["error"]["message"]


async def test_nul_in_query_text_is_a_4xx(client: httpx.AsyncClient, tenant: Tenant) -> None:
    base = f"/api/v1/workspaces/{tenant.slug}/knowledge-bases"
    assert (await client.post(base, json={"name": "handbook"}, headers=tenant.headers())).status_code == 201
    for text in ("laptop\x00policy", "\x00"):
        response = await client.post(
            f"{base}/handbook/query", json={"query": text, "mode": "keyword"}, headers=tenant.headers(Role.viewer)
        )
        assert 400 <= response.status_code < 500, response.text
