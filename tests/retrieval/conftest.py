"""Retrieval fixtures: one real embedder per session and knowledge bases filled through the real ingestion path."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import pytest

from opsdesk.app.context import AppContext
from opsdesk.knowledge import service
from opsdesk.knowledge.ingest.schemas import ApiDocument, ApiIngest
from opsdesk.knowledge.ingest.service import api_files, queue_files
from opsdesk.knowledge.ingest.worker import run_pending_jobs
from opsdesk.knowledge.models import KnowledgeBase
from opsdesk.knowledge.schemas import KnowledgeBaseIn
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from tests.conftest import Tenant


@pytest.fixture(scope="session")
def shared_embedder() -> LocalMiniLM:
    """The real local MiniLM, loaded once for the session."""
    return LocalMiniLM()


@pytest.fixture
async def ctx(ctx: AppContext, shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch) -> AppContext:
    monkeypatch.setattr(ctx.providers, "embedder", lambda: shared_embedder)
    return ctx


@dataclass(frozen=True)
class Doc:
    key: str
    title: str
    text: str
    tags: Sequence[str] = field(default_factory=tuple)
    version: str | None = None


async def make_kb(ctx: AppContext, workspace_id: uuid.UUID, name: str) -> KnowledgeBase:
    async with ctx.db.session() as session:
        return await service.create_kb(session, workspace_id, KnowledgeBaseIn(name=name))


async def ingest(ctx: AppContext, workspace_id: uuid.UUID, kb_name: str, docs: Sequence[Doc]) -> KnowledgeBase:
    """Stages the documents as the JSON ingestion API does and runs the worker until they are indexed."""
    request = ApiIngest(
        kind="api",
        documents=[
            ApiDocument(key=d.key, title=d.title, text=d.text, tags=list(d.tags), version=d.version) for d in docs
        ],
    )
    async with ctx.db.session() as session:
        kb = await service.get_kb(session, workspace_id, kb_name)
        await queue_files(session, kb, api_files(request), source="api")
    await run_pending_jobs(ctx)
    async with ctx.db.session() as session:
        return await service.get_kb(session, workspace_id, kb_name)


HANDBOOK = [
    Doc(
        "vacation.md",
        "Vacation policy",
        "Employees receive 25 days of paid vacation per calendar year. Unused vacation days carry over until the end "
        "of March of the following year. Requests go to your team lead at least two weeks in advance.",
        ("hr", "policy"),
    ),
    Doc(
        "expenses.md",
        "Travel expenses",
        "Train tickets in second class and economy flights are reimbursed. Hotel costs are covered up to 150 euros "
        "per night. Submit receipts within 30 days through the finance portal.",
        ("finance", "policy"),
    ),
    Doc(
        "oncall.md",
        "On-call rotation",
        "The platform team runs a weekly on-call rotation. The pager alert code ERR-4711 means the payment gateway "
        "is down; restart the gateway pods and inform the incident channel.",
        ("engineering",),
    ),
    Doc(
        "laptop.md",
        "Laptop and equipment",
        "Every new hire gets a laptop on the first day. Broken equipment is replaced by the IT service desk within "
        "two business days; open a ticket describing the damage.",
        ("it",),
    ),
    Doc(
        "security.md",
        "Password rules",
        "Passwords need at least 14 characters. Enable two-factor authentication on every company account and never "
        "reuse a password across services.",
        ("it", "security"),
    ),
    Doc(
        "parental.md",
        "Parental leave",
        "Parents may take up to twelve months of parental leave. The company tops up the statutory benefit to 80 "
        "percent of the salary for the first three months.",
        ("hr",),
    ),
]


@pytest.fixture
async def handbook(ctx: AppContext, tenant: Tenant) -> KnowledgeBase:
    """Tenant acme's knowledge base "handbook" with six short policy documents."""
    await make_kb(ctx, tenant.workspace_id, "handbook")
    return await ingest(ctx, tenant.workspace_id, "handbook", HANDBOOK)


def query_path(tenant: Tenant, kb: str) -> str:
    return f"/api/v1/workspaces/{tenant.slug}/knowledge-bases/{kb}/query"


async def query(client: httpx.AsyncClient, tenant: Tenant, kb: str, **body: object) -> httpx.Response:
    return await client.post(query_path(tenant, kb), json=body, headers=tenant.headers())
