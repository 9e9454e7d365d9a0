"""The MCP server, driven by the `mcp` SDK's own client: over stdio (`opsdesk mcp`) and streamable HTTP (`/mcp`)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from opsdesk.api import create_app
from opsdesk.auth.roles import Role
from opsdesk.core.settings import Settings
from opsdesk.knowledge.models import KnowledgeBase
from tests.conftest import Tenant
from tests.support.live_server import LiveServer

TOOLS = {"search", "ask", "get_document"}


def _payload(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        data: dict[str, Any] = result.structured_content
        return data.get("result", data) if set(data) == {"result"} else data
    loaded: dict[str, Any] = json.loads(result.content[0].text)
    return loaded


def _error_text(result: Any) -> str:
    assert result.is_error
    return " ".join(getattr(part, "text", "") for part in result.content)


async def _exercise(client: Client, kb: str) -> None:
    tools = await client.list_tools()
    assert {tool.name for tool in tools.tools} >= TOOLS

    found = _payload(await client.call_tool("search", {"query": "hotel costs per night", "kb": kb, "top_k": 3}))
    top = found["results"][0]
    assert top["citation"]["source_key"] == "expenses.md" and top["citation"]["version"] == "v1.0.0"
    assert "150 euros" in top["text"]

    answered = _payload(await client.call_tool("ask", {"question": "How many vacation days do I get?", "kb": kb}))
    assert answered["known"] is True and "[1]" in answered["answer"]
    assert answered["citations"][0]["source_key"] == "vacation.md"

    document_id = answered["citations"][0]["document_id"]
    document = _payload(await client.call_tool("get_document", {"document_id": document_id}))
    assert document["title"] == "Vacation policy" and "25 days" in document["text"]


def _server_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    assert settings.database_url is not None and settings.secret_key is not None
    return {
        "OPSDESK_DATABASE_URL": settings.database_url.get_secret_value(),
        "OPSDESK_SECRET_KEY": settings.secret_key.get_secret_value(),
        "OPSDESK_DATA_DIR": str(tmp_path / "mcp"),
        "OPSDESK_LOCAL_LLM_ENABLED": "false",
        "OPSDESK_ENV": "test",
        "OPSDESK_LOG_LEVEL": "WARNING",
    }


@pytest.mark.slow
async def test_stdio_server_lists_tools_and_returns_cited_results(
    settings: Settings, tenant: Tenant, handbook: KnowledgeBase, tmp_path: Path
) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "opsdesk.cli", "mcp"],
        env={**_server_env(settings, tmp_path), "OPSDESK_API_KEY": tenant.keys[Role.service]},
        cwd=str(tmp_path),
    )
    async with Client(params, read_timeout_seconds=120) as client:
        await _exercise(client, "handbook")


@pytest.mark.slow
async def test_stdio_server_refuses_to_start_without_credentials(settings: Settings, tmp_path: Path) -> None:
    env = {**_server_env(settings, tmp_path), "PATH": "/usr/bin:/bin"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opsdesk.cli",
        "mcp",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert b"API key" in stderr


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    """opsdesk under uvicorn (its own app context on the test database), for real HTTP clients."""
    server = LiveServer(create_app(settings)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def mcp_http(live: LiveServer) -> AsyncIterator[Any]:
    def connect(key: str) -> Client:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
        return Client(streamable_http_client(f"{live.url}/mcp", http_client=http), read_timeout_seconds=60)

    yield connect


@pytest.mark.slow
async def test_http_server_lists_tools_and_returns_cited_results(
    tenant: Tenant, handbook: KnowledgeBase, mcp_http: Any
) -> None:
    async with mcp_http(tenant.keys[Role.viewer]) as client:
        await _exercise(client, "handbook")


@pytest.mark.slow
async def test_http_server_needs_a_valid_api_key(live: LiveServer, tenant: Tenant) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        missing = await http.post("/mcp", json=body)
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
        wrong = await http.post("/mcp", json=body, headers={"Authorization": "Bearer odk_not-a-real-key"})
        assert wrong.status_code == 401
        token = await http.post("/mcp", json=body, headers={"Authorization": f"Bearer {tenant.token}"})
        assert token.status_code == 401


@pytest.mark.slow
async def test_http_server_scopes_every_tool_to_the_keys_workspace(
    tenant: Tenant, other_tenant: Tenant, handbook: KnowledgeBase, mcp_http: Any
) -> None:
    async with mcp_http(tenant.keys[Role.viewer]) as client:
        answered = _payload(await client.call_tool("ask", {"question": "vacation days", "kb": "handbook"}))
        document_id = answered["citations"][0]["document_id"]

    async with mcp_http(other_tenant.keys[Role.viewer]) as client:
        by_name = await client.call_tool("search", {"query": "vacation days", "kb": "handbook"})
        assert "No knowledge base 'handbook'" in _error_text(by_name)
        by_id = await client.call_tool("search", {"query": "vacation days", "kb": str(handbook.id)})
        assert "No knowledge base" in _error_text(by_id)
        without_kb = await client.call_tool("ask", {"question": "vacation days"})
        assert "has: none" in _error_text(without_kb)
        document = await client.call_tool("get_document", {"document_id": document_id})
        assert "No document" in _error_text(document)


def _error(result: Any) -> tuple[str, str]:
    """The (code, message) an error result carries, checked against its text."""
    assert result.is_error
    error = result.structured_content["error"]
    assert _error_text(result) == f"{error['code']}: {error['message']}"
    return error["code"], error["message"]


@pytest.mark.slow
async def test_a_get_or_delete_without_a_session_is_answered_at_once(live: LiveServer, tenant: Tenant) -> None:
    key = {"Authorization": f"Bearer {tenant.keys[Role.viewer]}"}
    # Before the fix the GET was held open without a byte for ten minutes: the read timeout guards the test.
    async with httpx.AsyncClient(base_url=live.url, timeout=httpx.Timeout(30, read=20)) as http:
        for headers in ({**key, "Accept": "text/event-stream"}, {"Accept": "text/event-stream"}, key):
            stream = await http.get("/mcp", headers=headers)
            assert stream.status_code == 405, stream.text
            assert stream.headers["allow"] == "POST"
            assert (
                stream.json()["error"]["code"] == "method_not_allowed" and "POST" in stream.json()["error"]["message"]
            )
        ended = await http.delete("/mcp", headers={**key, "mcp-session-id": "abc"})
        assert ended.status_code == 405 and ended.headers["allow"] == "POST"


@pytest.mark.slow
async def test_tool_errors_say_what_went_wrong_with_a_code(
    tenant: Tenant, other_tenant: Tenant, handbook: KnowledgeBase, mcp_http: Any
) -> None:
    async with mcp_http(tenant.keys[Role.viewer]) as client:
        assert _error(await client.call_tool("get_document", {"document_id": "not-a-document"})) == (
            "not_found",
            "No document 'not-a-document' in this knowledge base.",
        )
        code, message = _error(await client.call_tool("search", {"query": "vacation", "kb": "nowhere"}))
        assert code == "not_found" and "nowhere" in message
        code, message = _error(await client.call_tool("search", {"query": "", "kb": "handbook"}))
        assert code == "invalid_argument" and "query" in message
        code, message = _error(await client.call_tool("search", {"query": "vacation", "top_k": "many"}))
        assert code == "invalid_argument" and "top_k" in message and "many" not in message
        code, message = _error(await client.call_tool("search", {"kb": "handbook"}))
        assert code == "invalid_argument" and "query" in message
        code, message = _error(await client.call_tool("search", {"query": "x", "mode": "psychic", "kb": "handbook"}))
        assert code == "invalid_argument" and "mode" in message

    async with mcp_http(other_tenant.keys[Role.viewer]) as client:
        code, message = _error(await client.call_tool("ask", {"question": "vacation days"}))
        assert code == "invalid_argument" and "has: none" in message
