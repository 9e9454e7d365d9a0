"""Documents: upload and ingest, versions, unchanged uploads skipped, deletes take the chunks, filters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.knowledge.models import Chunk
from tests.knowledge.conftest import KnowledgeApi

RunJobs = Callable[[], Awaitable[None]]
RETURNS_V1 = b"# Returns\n\nItems can be returned within 30 days with a receipt.\n"
RETURNS_V2 = b"# Returns\n\nItems can be returned within 60 days, receipt or not.\n"


async def _chunks(ctx: AppContext, **where: object) -> int:
    async with ctx.db.session() as session:
        query = select(func.count()).select_from(Chunk)
        for column, value in where.items():
            query = query.where(getattr(Chunk, column) == value)
        return await session.scalar(query) or 0


async def test_an_upload_becomes_a_ready_document_with_chunks(api: KnowledgeApi, run_jobs: RunJobs) -> None:
    await api.create_kb("policies")
    job = await api.upload_ok("policies", ("returns.md", RETURNS_V1), ("shipping.txt", b"We ship within 2 days."))
    assert job["status"] == "queued"
    assert job["total_items"] == 2

    await run_jobs()
    done = await api.job("policies", job["id"])
    assert done["status"] == "done", done
    assert done["done_items"] == 2 and done["failed_items"] == 0
    assert {item["key"]: item["outcome"] for item in done["report"]} == {
        "returns.md": "ingested",
        "shipping.txt": "ingested",
    }
    documents = {doc["source_key"]: doc for doc in await api.documents("policies")}
    returns = documents["returns.md"]
    assert returns["status"] == "ready"
    assert returns["title"] == "Returns"
    assert returns["doc_type"] == "md"
    assert returns["latest_version"] == "v1.0.0"

    chunks = (await api.get(f"/policies/documents/{returns['id']}/versions/latest/chunks")).json()
    assert chunks["total"] >= 1
    assert "30 days" in chunks["items"][0]["text"]
    content = await api.get(f"/policies/documents/{returns['id']}/versions/v1.0.0/content")
    assert content.content == RETURNS_V1
    kb = (await api.get("/policies")).json()
    assert kb["content_version"] >= 1


async def test_new_content_gets_the_next_version_and_every_version_is_kept(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext
) -> None:
    await api.create_kb("policies")
    await api.upload_ok("policies", ("returns.md", RETURNS_V1))
    await run_jobs()
    await api.upload_ok("policies", ("returns.md", RETURNS_V2))
    await run_jobs()

    (document,) = await api.documents("policies")
    assert document["latest_version"] == "v1.0.1"
    detail = (await api.get(f"/policies/documents/{document['id']}")).json()
    assert [v["version"] for v in detail["versions"]] == ["v1.0.1", "v1.0.0"]
    assert all(v["status"] == "ready" for v in detail["versions"])
    older = (await api.get(f"/policies/documents/{document['id']}/versions", limit=1, offset=1)).json()
    assert [v["version"] for v in older["items"]] == ["v1.0.0"]
    assert (older["total"], older["limit"], older["offset"]) == (2, 1, 1)
    old = (await api.get(f"/policies/documents/{document['id']}/versions/v1.0.0")).json()
    assert old["chunk_count"] == await _chunks(ctx, version_id=_uuid(old["id"]))
    latest = (await api.get(f"/policies/documents/{document['id']}/versions/latest/chunks")).json()
    assert "60 days" in latest["items"][0]["text"]


async def test_a_version_given_by_the_caller_must_be_greater(api: KnowledgeApi, run_jobs: RunJobs) -> None:
    await api.create_kb("policies")
    await api.upload_ok("policies", ("returns.md", RETURNS_V1), version="v2.1.0")
    await run_jobs()
    lower = await api.upload("policies", ("returns.md", RETURNS_V2), version="v2.0.9")
    assert lower.status_code == 400
    assert "must be greater than its latest version v2.1.0" in lower.json()["error"]["message"]
    malformed = await api.upload("policies", ("returns.md", RETURNS_V2), version="2.1")
    assert malformed.status_code == 400
    assert "v1.2.3" in malformed.json()["error"]["message"]
    await api.upload_ok("policies", ("returns.md", RETURNS_V2), version="3.0.0")
    await run_jobs()
    (document,) = await api.documents("policies")
    assert document["latest_version"] == "v3.0.0"


async def test_the_same_content_again_is_skipped_as_unchanged(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext
) -> None:
    await api.create_kb("policies")
    await api.upload_ok("policies", ("returns.md", RETURNS_V1))
    await run_jobs()
    before = await _chunks(ctx)
    again = await api.upload_ok("policies", ("returns.md", RETURNS_V1))
    assert again["status"] == "done"
    assert again["skipped_items"] == 1
    assert again["report"][0]["outcome"] == "unchanged"
    assert again["report"][0]["reason"] == "same content as v1.0.0"
    await run_jobs()
    (document,) = await api.documents("policies")
    versions = (await api.get(f"/policies/documents/{document['id']}/versions")).json()
    assert versions["total"] == 1
    assert await _chunks(ctx) == before


async def test_deleting_a_document_deletes_its_versions_and_chunks(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext
) -> None:
    await api.create_kb("policies")
    await api.upload_ok("policies", ("returns.md", RETURNS_V1), ("keep.md", b"# Keep\n\nThis one stays."))
    await run_jobs()
    await api.upload_ok("policies", ("returns.md", RETURNS_V2))
    await run_jobs()
    documents = {doc["source_key"]: doc for doc in await api.documents("policies")}
    returns_id = documents["returns.md"]["id"]
    assert await _chunks(ctx, document_id=_uuid(returns_id)) >= 2
    version_before = (await api.get("/policies")).json()["content_version"]

    assert (await api.delete(f"/policies/documents/{returns_id}")).status_code == 200
    assert await _chunks(ctx, document_id=_uuid(returns_id)) == 0
    assert await _chunks(ctx, document_id=_uuid(documents["keep.md"]["id"])) >= 1
    assert (await api.get(f"/policies/documents/{returns_id}")).status_code == 404
    assert (await api.get("/policies")).json()["content_version"] == version_before + 1


async def test_documents_filter_by_type_tag_status_and_source(api: KnowledgeApi, run_jobs: RunJobs) -> None:
    await api.create_kb("policies")
    await api.upload_ok("policies", ("returns.md", RETURNS_V1), tags="customer, returns")
    await api.upload_ok("policies", ("rates.csv", b"city,rate\nOslo,110\n"), ("empty.txt", b""))
    api_job = await api.post(
        "/policies/ingest", {"kind": "api", "documents": [{"key": "faq/1", "title": "Opening hours", "text": "9-5"}]}
    )
    assert api_job.status_code == 202, api_job.text
    await run_jobs()

    assert [d["source_key"] for d in await api.documents("policies", type="csv")] == ["rates.csv"]
    assert [d["source_key"] for d in await api.documents("policies", tag="returns")] == ["returns.md"]
    assert [d["source_key"] for d in await api.documents("policies", status="failed")] == ["empty.txt"]
    assert [d["source_key"] for d in await api.documents("policies", source="api")] == ["faq/1"]
    page = (await api.get("/policies/documents", limit=2, offset=2)).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    faq = (await api.documents("policies", source="api"))[0]
    assert faq["title"] == "Opening hours"


def _uuid(value: str) -> object:
    import uuid

    return uuid.UUID(value)
