"""Knowledge test fixtures: one real embedder for the whole session, a small API client, and a job runner."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from opsdesk.app.context import AppContext
from opsdesk.knowledge.ingest.worker import run_pending_jobs
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from tests.conftest import Tenant


@pytest.fixture(scope="session")
def shared_embedder() -> LocalMiniLM:
    """The real local MiniLM, loaded once instead of once per test."""
    return LocalMiniLM()


@pytest.fixture
async def ctx(ctx: AppContext, shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch) -> AppContext:
    """The root `ctx`, with the session's embedder."""
    monkeypatch.setattr(ctx.providers, "embedder", lambda: shared_embedder)
    return ctx


@pytest.fixture
def run_jobs(ctx: AppContext) -> Callable[[], Awaitable[None]]:
    """Runs every queued ingestion job in this process until none is left."""

    async def run() -> None:
        await run_pending_jobs(ctx)

    return run


class KnowledgeApi:
    """The knowledge API of one tenant, for tests: paths are built, errors are returned as responses."""

    def __init__(self, http: httpx.AsyncClient, tenant: Tenant, role: Any = None) -> None:
        self.http = http
        self.tenant = tenant
        self.headers = tenant.headers(role)
        self.base = f"/api/v1/workspaces/{tenant.slug}/knowledge-bases"

    def as_role(self, role: Any) -> KnowledgeApi:
        return KnowledgeApi(self.http, self.tenant, role)

    async def get(self, path: str = "", **params: Any) -> httpx.Response:
        return await self.http.get(self.base + path, params=params, headers=self.headers)

    async def post(self, path: str = "", body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.http.post(self.base + path, json=body, headers=headers, **kwargs)

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.http.patch(self.base + path, json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.http.delete(self.base + path, headers=self.headers)

    async def create_kb(self, name: str = "handbook", **fields: Any) -> dict[str, Any]:
        response = await self.post("", {"name": name, **fields})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def upload(self, kb: str, *files: tuple[str, bytes], **form: str) -> httpx.Response:
        parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
        return await self.http.post(f"{self.base}/{kb}/documents", files=parts, data=form or None, headers=self.headers)

    async def upload_ok(self, kb: str, *files: tuple[str, bytes], **form: str) -> dict[str, Any]:
        response = await self.upload(kb, *files, **form)
        assert response.status_code == 202, response.text
        job: dict[str, Any] = response.json()
        return job

    async def job(self, kb: str, job_id: str) -> dict[str, Any]:
        response = await self.get(f"/{kb}/jobs/{job_id}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def documents(self, kb: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.get(f"/{kb}/documents", **params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
async def api(client: httpx.AsyncClient, tenant: Tenant) -> AsyncIterator[KnowledgeApi]:
    yield KnowledgeApi(client, tenant)
