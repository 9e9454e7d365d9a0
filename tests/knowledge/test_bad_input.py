"""Bad input, each a clear error: damaged and hostile files fail their document with the reason and leave no chunk;
oversized and unsupported uploads and refused or malformed URLs are turned away before anything is stored."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.knowledge.ingest import jobs
from opsdesk.knowledge.models import Chunk, Document, DocumentVersion, KnowledgeBase
from tests.knowledge.conftest import KnowledgeApi
from tests.knowledge.sample_documents import make_docx, make_pdf, make_xlsx, rezip, zip_bomb_docx

RunJobs = Callable[[], Awaitable[None]]


async def _version_state(ctx: AppContext, document_id: str) -> list[tuple[str, str | None, int, int]]:
    """(status, error, chunk_count, chunks actually stored) of every version of the document."""
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(
                DocumentVersion.status,
                DocumentVersion.error,
                DocumentVersion.chunk_count,
                select(func.count()).where(Chunk.version_id == DocumentVersion.id).scalar_subquery(),
            ).where(DocumentVersion.document_id == uuid.UUID(document_id))
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def _ingest_one(api: KnowledgeApi, run_jobs: RunJobs, name: str, data: bytes) -> tuple[dict[str, Any], Any]:
    await api.create_kb("inbox")
    job = await api.upload_ok("inbox", (name, data))
    await run_jobs()
    (document,) = await api.documents("inbox")
    return document, await api.job("inbox", job["id"])


def _corrupt_pdf() -> bytes:
    data = make_pdf([[("p", "Quarterly numbers. " * 100)]])
    return data[: len(data) // 2]


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    return buffer.getvalue()


def _corrupt_xlsx() -> bytes:
    return rezip(make_xlsx({"Stock": [["sku", "qty"], ["A1", 3]]}), replace={"xl/workbook.xml": b"not xml at all"})


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("report.pdf", _corrupt_pdf(), "PDF"),
        ("travel.docx", make_docx()[:2000], "DOCX"),
        ("stock.xlsx", _corrupt_xlsx(), "XLSX"),
        ("innocent.docx", zip_bomb_docx(padding_bytes=4 * 1024 * 1024), "zip bomb"),
        ("empty.md", b"", "empty"),
        ("blank.txt", b"   \n\n  ", "empty"),
        ("scan.pdf", make_pdf([[]]), "no text"),
    ],
    ids=["corrupt pdf", "corrupt docx", "corrupt xlsx", "zip bomb docx", "empty file", "blank file", "textless pdf"],
)
async def test_a_bad_file_fails_its_document_with_the_reason_and_leaves_no_chunks(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, name: str, data: bytes, reason: str
) -> None:
    document, job = await _ingest_one(api, run_jobs, name, data)
    assert document["status"] == "failed"
    assert reason in document["error"]
    assert job["status"] == "failed"  # its only item failed, so the job could not do anything
    assert job["report"] == [
        {
            "key": name,
            "outcome": "failed",
            "reason": document["error"],
            "document_id": document["id"],
            "version": "v1.0.0",
            "chunks": None,
        }
    ]
    assert name in job["error"] and reason in job["error"]
    assert await _version_state(ctx, document["id"]) == [("failed", document["error"], 0, 0)]


async def test_one_bad_file_does_not_fail_the_others(api: KnowledgeApi, run_jobs: RunJobs) -> None:
    await api.create_kb("inbox")
    job = await api.upload_ok("inbox", ("good.md", b"# Good\n\nFine content."), ("bad.pdf", _corrupt_pdf()))
    await run_jobs()
    finished = await api.job("inbox", job["id"])
    assert finished["status"] == "done"
    assert (finished["done_items"], finished["failed_items"]) == (1, 1)
    outcomes = {item["key"]: item["outcome"] for item in finished["report"]}
    assert outcomes == {"good.md": "ingested", "bad.pdf": "failed"}


async def test_a_failed_document_recovers_with_a_good_new_version(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext
) -> None:
    document, _ = await _ingest_one(api, run_jobs, "notes.md", b"")
    await api.upload_ok("inbox", ("notes.md", b"# Notes\n\nNow with text."))
    await run_jobs()
    (document,) = await api.documents("inbox")
    assert (document["status"], document["error"], document["latest_version"]) == ("ready", None, "v1.0.1")
    states = sorted(await _version_state(ctx, document["id"]))
    assert states[0][0] == "failed" and states[0][3] == 0
    assert states[1][0] == "ready" and states[1][2] == states[1][3] >= 1


async def test_an_oversized_upload_is_refused_with_413_and_nothing_is_stored(
    api: KnowledgeApi, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.create_kb("inbox")
    monkeypatch.setattr(ctx.settings, "max_upload_bytes", 4096)
    response = await api.upload("inbox", ("big.txt", b"x" * 10_000))
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["type"] == "payload_too_large"
    assert "4096" in error["message"]
    async with ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Document)) == 0


@pytest.mark.parametrize(
    ("name", "data", "named"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG image"),
        ("notes.xyz", b"plain words", "'.xyz'"),
        ("bundle.zip", _plain_zip(), "ZIP archive"),
        ("program.exe", b"MZ\x90\x00" + b"\x00" * 60, "executable"),
    ],
    ids=["png", "unknown extension", "zip", "exe"],
)
async def test_an_unsupported_type_is_refused_with_415_naming_it(
    api: KnowledgeApi, ctx: AppContext, name: str, data: bytes, named: str
) -> None:
    await api.create_kb("inbox")
    response = await api.upload("inbox", ("fine.md", b"# Fine"), (name, data))
    assert response.status_code == 415, response.text
    message = response.json()["error"]["message"]
    assert name in message and named in message
    async with ctx.db.session() as session:  # the whole upload is refused, the good file included
        assert await session.scalar(select(func.count()).select_from(Document)) == 0


async def test_an_upload_without_files_or_with_a_file_twice_is_a_400(api: KnowledgeApi) -> None:
    await api.create_kb("inbox")
    twice = await api.upload("inbox", ("a.md", b"# A"), ("a.md", b"# A again"))
    assert twice.status_code == 400
    assert "'a.md' twice" in twice.json()["error"]["message"]
    none = await api.http.post(f"{api.base}/inbox/documents", data={"tags": "x"}, headers=api.headers)
    assert none.status_code == 422
    assert "files" in none.json()["error"]["message"]


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1/", "127.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.0.0.1/", "10.0.0.1"),
        ("http://[::1]:8080/", "::1"),
    ],
    ids=["loopback", "cloud metadata", "private", "ipv6 loopback"],
)
async def test_crawling_a_private_address_is_refused(
    api: KnowledgeApi, ctx: AppContext, url: str, address: str
) -> None:
    await api.create_kb("web")
    response = await api.post("/web/ingest", {"kind": "crawl", "url": url})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "blocked_address"
    assert address in error["message"]
    async with ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(jobs.IngestionJob)) == 0


@pytest.mark.parametrize(
    "url",
    ["not a url", "ftp://example.com/file", "http://", "javascript:alert(1)", "http://user:secret@example.com/"],
)
async def test_a_malformed_crawl_url_is_a_clear_400(api: KnowledgeApi, url: str) -> None:
    await api.create_kb("web")
    response = await api.post("/web/ingest", {"kind": "crawl", "url": url})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_url"
    assert response.json()["error"]["message"]


async def test_a_git_source_on_the_server_disk_is_refused_over_the_api(api: KnowledgeApi) -> None:
    await api.create_kb("code")
    for source in ("/etc", "file:///etc", "git@github.com:org/repo.git"):
        response = await api.post("/code/ingest", {"kind": "git", "source": source})
        assert response.status_code == 400, response.text
        assert "http(s)" in response.json()["error"]["message"]


async def test_a_crawl_job_whose_start_is_refused_at_run_time_fails_with_the_reason(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext
) -> None:
    created = await api.create_kb("web")
    async with ctx.db.session() as session:  # as if the address had been public when the job was queued
        kb = await session.get(KnowledgeBase, uuid.UUID(created["id"]))
        assert kb is not None
        job = await jobs.create_job(session, kb, "crawl", {"url": "http://127.0.0.1:9/"})
    await run_jobs()
    finished = await api.job("web", str(job.id))
    assert finished["status"] == "failed"
    assert "127.0.0.1" in finished["error"]


async def test_nul_characters_anywhere_are_a_4xx_never_a_500(api: KnowledgeApi) -> None:
    await api.create_kb("inbox")
    gets = [
        ("", {"name_prefix": "a\x00"}),
        ("", {"tag": "\x00"}),
        ("/in%00box", {}),
        ("/inbox/documents", {"key_prefix": "\x00", "type": "\x00"}),
        ("/inbox/tasks", {"assignee": "\x00", "q": "\x00"}),
    ]
    for path, params in gets:
        response = await api.get(path, **params)
        assert response.status_code in (400, 422), (path, params, response.text)  # 422: refused before routing
        assert "NUL" in response.json()["error"]["message"]
    posts = [
        ("", {"name": "x", "tags": ["a\x00"]}),
        ("/inbox/tasks", {"title": "a\x00"}),
        ("/inbox/ingest", {"kind": "api", "documents": [{"key": "k\x00", "text": "t"}]}),
        ("/inbox/ingest", {"kind": "api", "documents": [{"key": "k", "text": "t\x00", "tags": ["x"]}]}),
        ("/inbox/ingest", {"kind": "crawl", "url": "http://exa\x00mple.com/"}),
    ]
    for path, body in posts:
        response = await api.post(path, body)
        assert response.status_code == 422, (path, response.text)
        assert "NUL" in response.json()["error"]["message"]
    response = await api.upload("inbox", ("a.md", b"# x"), tags="a\x00b")
    assert response.status_code == 400, response.text
