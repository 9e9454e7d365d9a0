"""Crawl and git ingestion jobs end to end: pages and files become documents; robots.txt is obeyed."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from opsdesk.app.context import AppContext
from opsdesk.knowledge.ingest import service as ingest_service
from opsdesk.knowledge.ingest.schemas import GitIngest
from opsdesk.knowledge.models import KnowledgeBase
from tests.knowledge.conftest import KnowledgeApi
from tests.knowledge.local_site import LocalSite, Route

RunJobs = Callable[[], Awaitable[None]]


def _page(title: str, body: str, links: list[str]) -> Route:
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    html = f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{body}</p>{anchors}</body></html>"
    return Route(html.encode())


@pytest.fixture
async def site() -> AsyncIterator[LocalSite]:
    server = LocalSite(
        {
            "/robots.txt": Route(b"User-agent: *\nDisallow: /private/\n", "text/plain"),
            "/": _page(
                "Home", "Welcome to the support site.", ["/about", "/private/salaries", "https://elsewhere.example/"]
            ),
            "/about": _page("About us", "We repair bicycles since 1999.", ["/"]),
            "/private/salaries": _page("Salaries", "Secret numbers.", []),
        }
    )
    yield server
    server.close()


async def test_a_crawl_job_stores_each_page_and_respects_robots_txt(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctx.settings, "crawl_allow_private", True)
    await api.create_kb("support")
    response = await api.post("/support/ingest", {"kind": "crawl", "url": site.url + "/", "max_depth": 2})
    assert response.status_code == 202, response.text
    await run_jobs()

    job = await api.job("support", response.json()["id"])
    assert job["status"] == "done", job
    outcomes = {item["key"]: (item["outcome"], item.get("reason")) for item in job["report"]}
    assert outcomes[site.url + "/"][0] == "ingested"
    assert outcomes[site.url + "/about"][0] == "ingested"
    assert outcomes[site.url + "/private/salaries"] == ("skipped", "robots.txt disallows")
    assert "/private/salaries" not in site.paths()  # never even fetched

    documents = {doc["source_key"]: doc for doc in await api.documents("support")}
    assert set(documents) == {site.url + "/", site.url + "/about"}
    about = documents[site.url + "/about"]
    assert (about["source"], about["doc_type"], about["title"]) == ("crawl", "html", "About us")

    again = await api.post("/support/ingest", {"kind": "crawl", "url": site.url + "/"})
    await run_jobs()
    recrawl = await api.job("support", again.json()["id"])
    assert recrawl["status"] == "done"
    assert {item["outcome"] for item in recrawl["report"] if item["outcome"] != "skipped"} == {"unchanged"}


async def test_a_crawl_where_robots_txt_forbids_everything_fails_saying_so(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctx.settings, "crawl_allow_private", True)
    closed = LocalSite({"/robots.txt": Route(b"User-agent: *\nDisallow: /\n", "text/plain"), "/": _page("x", "y", [])})
    try:
        await api.create_kb("support")
        response = await api.post("/support/ingest", {"kind": "crawl", "url": closed.url + "/"})
        await run_jobs()
        job = await api.job("support", response.json()["id"])
    finally:
        closed.close()
    assert job["status"] == "failed"
    assert "robots.txt disallows" in job["error"]
    assert await api.documents("support") == []


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """A committed work tree with markdown, code and an image."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "README.md").write_text("# Widget\n\nA widget library.\n")
    (repo / "docs" / "usage.md").write_text("# Usage\n\nCall widget() to start.\n")
    (repo / "widget.py").write_text("def widget() -> int:\n    return 42\n")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env={**env, "PATH": "/usr/bin:/bin"})
    return repo


async def test_a_git_job_stores_each_text_and_code_file_by_its_path(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, git_repo: Path
) -> None:
    created = await api.create_kb("code")
    async with ctx.db.session() as session:  # what `opsdesk ingest PATH` does; the API refuses local paths
        kb = await session.get(KnowledgeBase, uuid.UUID(created["id"]))
        assert kb is not None
        request = GitIngest(kind="git", source=str(git_repo), tags=["widget"])
        job = await ingest_service.queue_git(session, ctx.settings, kb, request, allow_local=True)
    await run_jobs()

    finished = await api.job("code", str(job.id))
    assert finished["status"] == "done", finished
    documents = {doc["source_key"]: doc for doc in await api.documents("code")}
    assert set(documents) == {"README.md", "docs/usage.md", "widget.py"}
    assert documents["widget.py"]["doc_type"] == "code"
    assert documents["README.md"]["source"] == "git"
    assert documents["README.md"]["tags"] == ["widget"]
    assert len(documents["README.md"]["metadata"]["commit"]) == 40
