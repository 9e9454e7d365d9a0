"""Conversation test fixtures: the real embedder once per session, a test solution with a knowledge base, an API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.conversation import SolutionConfig, register_solution
from opsdesk.conversation import handlers as registry
from opsdesk.knowledge import service as kb_service
from opsdesk.knowledge.ingest.schemas import ApiDocument, ApiIngest
from opsdesk.knowledge.ingest.service import api_files, queue_files
from opsdesk.knowledge.ingest.worker import run_pending_jobs
from opsdesk.knowledge.schemas import KnowledgeBaseIn
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from tests.conftest import Tenant

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "opsdesk" / "orders" / "data" / "intent_examples.jsonl"
HELD_OUT = Path(__file__).with_name("intent_heldout.jsonl")
SOLUTION = "testdesk"
KB = "desk-policies"

POLICIES = {
    "delivery.md": (
        "Delivery policy",
        "We deliver from Monday to Saturday between 9am and 6pm. We do not deliver on Sundays or public holidays. "
        "Urgent orders placed before 11am are delivered on the same day. Delivery is free for orders above $150; "
        "smaller orders pay a delivery charge of $15.",
    ),
    "payment.md": (
        "Payment terms",
        "Invoices are payable within 30 days of the invoice date (Net 30). We accept PayNow, bank transfer and "
        "cheques. Late payment incurs a fee of 1.5% per month on the overdue amount.",
    ),
    "returns.md": (
        "Returns and refunds",
        "Damaged or wrong items can be returned within 7 days of delivery for a full refund or a replacement. "
        "Unopened cartons can be returned within 14 days. Send a photo of the damage with your order number.",
    ),
}


@pytest.fixture(scope="session")
def shared_embedder() -> LocalMiniLM:
    return LocalMiniLM()


@pytest.fixture
async def ctx(ctx: AppContext, shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch) -> AppContext:
    """The root `ctx` with the session's embedder and the test solution as the default one."""
    monkeypatch.setattr(ctx.providers, "embedder", lambda: shared_embedder)
    monkeypatch.setattr(ctx.settings, "conversation_default_solution", SOLUTION)
    return ctx


@pytest.fixture(autouse=True)
def solution() -> Iterator[SolutionConfig]:
    """A solution like the order desk, with no handlers registered (tests add their own)."""
    config = SolutionConfig(name=SOLUTION, examples_path=EXAMPLES, kb=KB)
    register_solution(config)
    yield config
    for intent in list(registry._handlers):
        if intent[0] == SOLUTION:
            registry.unregister_handler(*intent)


async def ingest(ctx: AppContext, tenant: Tenant, documents: dict[str, tuple[str, str]]) -> None:
    """Creates the knowledge base when missing, ingests the documents and runs the jobs."""
    async with ctx.db.session() as session:
        kbs, _ = await kb_service.list_kbs(session, tenant.workspace_id, limit=200, offset=0)
        kb = next((kb for kb in kbs if kb.name == KB), None)
        if kb is None:
            kb = await kb_service.create_kb(session, tenant.workspace_id, KnowledgeBaseIn(name=KB))
        # No titles: a heading such as "Payment terms" would itself be the closest "sentence" to the question.
        request = ApiIngest(
            kind="api", documents=[ApiDocument(key=key, text=text) for key, (_, text) in documents.items()]
        )
        await queue_files(session, kb, api_files(request))
    await run_pending_jobs(ctx)


@pytest.fixture
async def policies(ctx: AppContext, tenant: Tenant) -> None:
    await ingest(ctx, tenant, POLICIES)


class ChatApi:
    """The conversation API of one tenant."""

    def __init__(self, http: httpx.AsyncClient, tenant: Tenant, role: Role | None = None) -> None:
        self.http = http
        self.tenant = tenant
        self.headers = tenant.headers(role)
        self.base = f"/api/v1/workspaces/{tenant.slug}"

    async def say(self, text: str, sender: str = "+65 9123 4567", **extra: Any) -> httpx.Response:
        body = {"text": text, "sender": sender, **extra}
        return await self.http.post(f"{self.base}/conversations/messages", json=body, headers=self.headers)

    async def said(self, text: str, sender: str = "+65 9123 4567", **extra: Any) -> dict[str, Any]:
        response = await self.say(text, sender, **extra)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(self.base + path, params=params, headers=self.headers)

    async def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(self.base + path, json=body, headers={**self.headers, **(headers or {})})


@pytest.fixture
def chat(client: httpx.AsyncClient, tenant: Tenant) -> ChatApi:
    return ChatApi(client, tenant)


def whatsapp_payload(message_id: str, text: str, sender: str = "6591234567", name: str = "Mary") -> dict[str, Any]:
    """A WhatsApp Cloud API webhook call with one text message."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA-1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "6560000000", "phone_number_id": "PN-1"},
                            "contacts": [{"profile": {"name": name}, "wa_id": sender}],
                            "messages": [
                                {
                                    "from": sender,
                                    "id": message_id,
                                    "timestamp": "1710000000",
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
