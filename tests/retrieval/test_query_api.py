"""`POST …/knowledge-bases/{kb}/query`: ranked chunks, citations, answers, SSE, cache and workspace isolation."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.knowledge.models import Chunk, KnowledgeBase
from opsdesk.knowledge.query.answers import DONT_KNOW
from tests.conftest import Tenant
from tests.retrieval.conftest import Doc, ingest, make_kb, query, query_path


async def test_query_returns_ranked_chunks_with_scores_and_citations(
    client: httpx.AsyncClient, tenant: Tenant, handbook: KnowledgeBase
) -> None:
    response = await query(client, tenant, "handbook", query="How much is covered for a hotel night?", top_k=3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "hybrid" and body["kb"] == "handbook" and body["cached"] is False
    hits = body["hits"]
    assert [hit["rank"] for hit in hits] == [1, 2, 3]
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    top = hits[0]["citation"]
    assert top["document_title"] == "Travel expenses" and top["source_key"] == "expenses.md"
    assert top["version"] == "v1.0.0" and top["section"].startswith("Travel expenses") and top["page"] is None
    assert top["number"] == 1


async def test_answer_cites_numbered_chunks_that_exist(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, handbook: KnowledgeBase
) -> None:
    response = await query(client, tenant, "handbook", query="How many vacation days do employees get?", answer=True)
    assert response.status_code == 200, response.text
    body = response.json()
    answer = body["answer"]
    assert answer["known"] is True
    assert "25 days" in answer["text"]
    assert "[1]" in answer["text"]
    assert answer["citations"], answer
    chunk_ids = {hit["citation"]["chunk_id"]: hit for hit in body["hits"]}
    async with ctx.db.session() as session:
        for citation in answer["citations"]:
            # Each [n] is the n-th hit, and each cited chunk is a real chunk of the cited document.
            assert f"[{citation['number']}]" in answer["text"]
            assert chunk_ids[citation["chunk_id"]]["rank"] == citation["number"]
            chunk = await session.get(Chunk, uuid.UUID(citation["chunk_id"]))
            assert chunk is not None and str(chunk.document_id) == citation["document_id"]
            assert chunk.workspace_id == tenant.workspace_id


async def test_without_a_generative_model_the_answer_quotes_the_best_passage(
    client: httpx.AsyncClient, tenant: Tenant, handbook: KnowledgeBase
) -> None:
    body = (await query(client, tenant, "handbook", query="What does pager code ERR-4711 mean?", answer=True)).json()
    answer = body["answer"]
    assert answer["method"] == "extractive" and answer["model"] is None
    assert answer["text"].startswith('"') and "payment gateway" in answer["text"]
    assert answer["citations"][0]["source_key"] == "oncall.md"


async def test_low_retrieval_confidence_answers_i_dont_know(
    client: httpx.AsyncClient, tenant: Tenant, handbook: KnowledgeBase
) -> None:
    body = (
        await query(client, tenant, "handbook", query="Which glaze recipe suits stoneware pottery?", answer=True)
    ).json()
    answer = body["answer"]
    assert answer["known"] is False and answer["method"] == "none"
    assert answer["text"] == DONT_KNOW and answer["citations"] == []
    assert answer["confidence"] < 0.3


async def test_keyword_mode_answers_too(client: httpx.AsyncClient, tenant: Tenant, handbook: KnowledgeBase) -> None:
    body = (await query(client, tenant, "handbook", query="parental leave months", mode="keyword", answer=True)).json()
    assert body["hits"][0]["citation"]["source_key"] == "parental.md"
    assert body["hits"][0]["semantic_rank"] is None
    assert body["answer"]["known"] is True


def _events(text: str) -> list[tuple[str, Any]]:
    events, name = [], None
    for line in text.splitlines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name is not None:
            events.append((name, json.loads(line.split(":", 1)[1])))
            name = None
    return events


async def test_streaming_sends_hits_then_the_answer_over_sse(
    client: httpx.AsyncClient, tenant: Tenant, handbook: KnowledgeBase
) -> None:
    async with client.stream(
        "POST",
        query_path(tenant, "handbook"),
        json={"query": "How long is parental leave?", "answer": True, "stream": True},
        headers=tenant.headers(),
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join([part async for part in response.aiter_text()])
    events = _events(text)
    names = [name for name, _ in events]
    assert names[0] == "hits" and names[-1] == "done"
    assert "delta" in names and names.index("answer") > names.index("delta")
    hits = events[0][1]["hits"]
    assert hits[0]["citation"]["source_key"] == "parental.md"
    answer = dict(events)["answer"]
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert streamed == answer["text"] and "twelve months" in answer["text"]


async def test_repeated_query_is_served_from_the_cache_until_the_kb_changes(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, handbook: KnowledgeBase
) -> None:
    ask = {"query": "hotel costs per night", "top_k": 3}
    first = (await query(client, tenant, "handbook", **ask)).json()
    second = (await query(client, tenant, "handbook", **{**ask, "query": "  Hotel COSTS per night "})).json()
    assert first["cached"] is False and second["cached"] is True
    assert second["hits"] == first["hits"]
    other_options = (await query(client, tenant, "handbook", **{**ask, "top_k": 2})).json()
    assert other_options["cached"] is False

    await ingest(ctx, tenant.workspace_id, "handbook", [Doc("hotels.md", "Hotel list", "Partner hotels near HQ.")])
    after = (await query(client, tenant, "handbook", **ask)).json()
    assert after["cached"] is False


async def test_bad_queries_get_clear_4xx(client: httpx.AsyncClient, tenant: Tenant, handbook: KnowledgeBase) -> None:
    assert (await query(client, tenant, "handbook", query="   ")).status_code == 422
    assert (await query(client, tenant, "handbook", query="x", top_k=0)).status_code == 422
    assert (await query(client, tenant, "handbook", query="x", mode="fuzzy")).status_code == 422
    assert (await query(client, tenant, "handbook", query="x", bogus=True)).status_code == 422
    missing = await query(client, tenant, "no-such-kb", query="x")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "kb_not_found"
    no_reranker = await query(client, tenant, "handbook", query="x", rerank=True)
    assert no_reranker.status_code == 400 and no_reranker.json()["error"]["code"] == "no_reranker"


async def test_viewer_keys_may_query(client: httpx.AsyncClient, tenant: Tenant, handbook: KnowledgeBase) -> None:
    response = await client.post(
        query_path(tenant, "handbook"), json={"query": "laptop"}, headers=tenant.headers(Role.viewer)
    )
    assert response.status_code == 200
    anonymous = await client.post(query_path(tenant, "handbook"), json={"query": "laptop"})
    assert anonymous.status_code == 401


async def test_another_workspace_gets_nothing_through_query_or_cache(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, handbook: KnowledgeBase
) -> None:
    ask = {"query": "How many vacation days do employees get?", "answer": True}
    acme = (await query(client, tenant, "handbook", **ask)).json()
    assert acme["hits"]

    # globex's key on acme's path, and on its own path with acme's knowledge base id or name.
    globex = other_tenant.headers(Role.service)
    crossed = await client.post(query_path(tenant, "handbook"), json=ask, headers=globex)
    assert crossed.status_code == 403
    by_id = await client.post(query_path(other_tenant, str(handbook.id)), json=ask, headers=globex)
    assert by_id.status_code == 404

    # globex's own "handbook" with the same question: never acme's cached result.
    await make_kb(ctx, other_tenant.workspace_id, "handbook")
    await ingest(ctx, other_tenant.workspace_id, "handbook", [Doc("menu.md", "Menu", "Soup of the day is tomato.")])
    own = await client.post(query_path(other_tenant, "handbook"), json=ask, headers=globex)
    assert own.status_code == 200
    body = own.json()
    assert body["cached"] is False
    assert {hit["citation"]["source_key"] for hit in body["hits"]} == {"menu.md"}
    async with ctx.db.session() as session:
        acme_chunks = set(await session.scalars(select(Chunk.id).where(Chunk.workspace_id == tenant.workspace_id)))
    assert not {uuid.UUID(hit["citation"]["chunk_id"]) for hit in body["hits"]} & acme_chunks
