"""Isolation: a user or API key of one workspace gets nothing of another's knowledge through any path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from opsdesk.auth.roles import Role
from tests.conftest import Tenant
from tests.knowledge.conftest import KnowledgeApi

RunJobs = Callable[[], Awaitable[None]]
SECRET_TEXT = b"# Merger plan\n\nGlobex acquires Initech on the first of May.\n"


async def _victim(client: httpx.AsyncClient, other_tenant: Tenant, run_jobs: RunJobs) -> dict[str, str]:
    """Globex's knowledge base with a document, a finished job and two tasks; returns their ids."""
    globex = KnowledgeApi(client, other_tenant)
    kb = await globex.create_kb("secret-plans")
    job = await globex.upload_ok("secret-plans", ("merger.md", SECRET_TEXT))
    await run_jobs()
    (document,) = await globex.documents("secret-plans")
    first = (await globex.post("/secret-plans/tasks", {"title": "Draft the press release"})).json()
    second = await globex.post("/secret-plans/tasks", {"title": "Tell the board", "depends_on": [first["id"]]})
    return {
        "kb": kb["id"],
        "document": document["id"],
        "version": document["latest_version_id"],
        "job": job["id"],
        "task": first["id"],
        "task2": second.json()["id"],
    }


def _paths(kb: str, ids: dict[str, str]) -> list[tuple[str, str, Any]]:
    doc = f"/{kb}/documents/{ids['document']}"
    return [
        ("GET", f"/{kb}", None),
        ("PATCH", f"/{kb}", {"description": "pwned"}),
        ("DELETE", f"/{kb}", None),
        ("GET", f"/{kb}/documents", None),
        ("POST", f"/{kb}/documents", None),
        ("POST", f"/{kb}/ingest", {"kind": "api", "documents": [{"key": "x", "text": "planted"}]}),
        ("GET", doc, None),
        ("DELETE", doc, None),
        ("GET", f"{doc}/versions", None),
        ("GET", f"{doc}/versions/v1.0.0", None),
        ("GET", f"{doc}/versions/{ids['version']}/content", None),
        ("GET", f"{doc}/versions/latest/chunks", None),
        ("GET", f"/{kb}/jobs", None),
        ("GET", f"/{kb}/jobs/{ids['job']}", None),
        ("GET", f"/{kb}/jobs/{ids['job']}/events", None),
        ("POST", f"/{kb}/jobs/{ids['job']}/retry", None),
        ("GET", f"/{kb}/tasks", None),
        ("POST", f"/{kb}/tasks", {"title": "planted", "depends_on": [ids["task"]]}),
        ("GET", f"/{kb}/tasks/{ids['task']}", None),
        ("PATCH", f"/{kb}/tasks/{ids['task']}", {"title": "pwned"}),
        ("DELETE", f"/{kb}/tasks/{ids['task']}", None),
    ]


async def _call(client: httpx.AsyncClient, base: str, headers: dict[str, str], method: str, path: str, body: Any):  # type: ignore[no-untyped-def]
    if method == "POST" and path.endswith("/documents"):
        return await client.post(base + path, files=[("files", ("x.md", b"# x"))], headers=headers)
    return await client.request(method, base + path, json=body, headers=headers)


def _leaks(response: httpx.Response, ids: dict[str, str]) -> list[str]:
    """The victim's ids (other than those the request itself named) and contents found in the response."""
    try:
        asked = str(response.request.url) + response.request.content.decode("utf-8", "replace")
    except httpx.RequestNotRead:  # a streamed multipart upload names no id in its body
        asked = str(response.request.url)
    text = response.text
    found = [name for name, value in ids.items() if value in text and value not in asked]
    return found + [marker for marker in ("Initech", "Merger plan", "press release", "board") if marker in text]


@pytest.mark.parametrize("role", [None, Role.admin, Role.operator, Role.viewer, Role.service])
async def test_another_workspace_gets_403_or_404_and_nothing_of_it(
    client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, run_jobs: RunJobs, role: Role | None
) -> None:
    ids = await _victim(client, other_tenant, run_jobs)
    acme = KnowledgeApi(client, tenant, role)
    if role in (None, Role.admin, Role.operator, Role.service):
        await KnowledgeApi(client, tenant).create_kb("own")
    headers = tenant.headers(role)

    # Through the victim's own workspace path: refused outright.
    foreign = f"/api/v1/workspaces/{other_tenant.slug}/knowledge-bases"
    for method, path, body in [("GET", "", None), ("POST", "", {"name": "x"}), *_paths("secret-plans", ids)]:
        response = await _call(client, foreign, headers, method, path, body)
        assert response.status_code == 403, (method, path, response.status_code)
        assert not _leaks(response, ids), (method, path)

    # Through the caller's own workspace path, naming the victim's objects by id or name: they do not exist.
    for kb in (ids["kb"], "secret-plans"):
        for method, path, body in _paths(kb, ids):
            response = await _call(client, acme.base, headers, method, path, body)
            assert response.status_code in (403, 404), (method, path, response.status_code, response.text)
            assert not _leaks(response, ids), (method, path)
    if role is not Role.viewer:
        # The caller's own knowledge base cannot reach the victim's documents, jobs, tasks either.
        for method, path, body in _paths("own", ids)[3:]:  # documents onwards; the upload makes a document
            response = await _call(client, acme.base, headers, method, path, body)
            assert response.status_code in (200, 202, 400, 404), (method, path, response.status_code)
            assert not _leaks(response, ids), (method, path, response.text)
        dependency = await acme.post("/own/tasks", {"title": "t", "depends_on": [ids["task"]]})
        assert dependency.status_code == 400
        assert "Unknown tasks" in dependency.json()["error"]["message"]

    listed = (await acme.get("")).json()
    assert all(kb["id"] != ids["kb"] for kb in listed["items"])

    # And the victim's data is intact.
    globex = KnowledgeApi(client, other_tenant)
    assert (await globex.get("/secret-plans")).json()["description"] == ""
    assert len(await globex.documents("secret-plans")) == 1
    tasks = (await globex.get("/secret-plans/tasks")).json()
    assert tasks["total"] == 2 and {t["title"] for t in tasks["items"]} == {"Draft the press release", "Tell the board"}
