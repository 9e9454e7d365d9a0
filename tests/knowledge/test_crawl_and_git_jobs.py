"""Crawl and git ingestion jobs end to end: pages and files become documents; robots.txt is obeyed."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from opsdesk.app.context import AppContext
from opsdesk.knowledge.ingest import service as ingest_service
from opsdesk.knowledge.ingest.schemas import GitIngest
from opsdesk.knowledge.models import KnowledgeBase
from tests.knowledge.conftest import KnowledgeApi
from tests.knowledge.local_site import LocalSite, Route
from tests.web.git_http import GitHttpServer, git_or_skip, make_bare_repo

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


# --- scope: a branch and paths of a repository, other hosts and paths of a crawl -----------------------------------

HANDBOOK = {
    "README.md": "# Handbook\n\nHow we work.\n",
    "docs/shifts.md": "# Shifts\n\nThe early shift starts at 07:00.\n",
    "src/rota.py": "def rota() -> list[str]:\n    return ['ana']\n",
}
RELEASE_2 = {
    "docs/shifts.md": "# Shifts\n\nThe early shift starts at 06:30.\n",
    "docs/drafts/holidays.md": "# Holidays\n\nNot decided yet.\n",
    "docs/handover.md": "# Handover\n\nWrite down open tickets.\n",
    "src/rota.py": "def rota() -> list[str]:\n    return ['ana', 'ben']\n",
}


@pytest.fixture
def served_repo(tmp_path: Path) -> Iterator[str]:
    """An http(s) repository on 127.0.0.1 with a default branch and `release/2`, each with docs/ and src/."""
    git_or_skip()
    make_bare_repo(tmp_path, HANDBOOK, branches={"release/2": RELEASE_2})
    server = GitHttpServer(tmp_path)
    try:
        yield f"{server.url}/handbook.git"
    finally:
        server.close()


async def test_a_git_job_reads_only_the_branch_and_paths_it_was_given(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, served_repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctx.settings, "crawl_allow_private", True)  # the repository is on 127.0.0.1
    await api.create_kb("handbook")
    scope = {"branch": "release/2", "paths": ["docs/**"], "exclude": ["docs/drafts/"]}
    body = {"kind": "git", "source": served_repo, **scope}
    response = await api.post("/handbook/ingest", body)
    assert response.status_code == 202, response.text
    params = response.json()["params"]  # stored with the job: a retry or a sync reads the same scope
    assert (params["branch"], params["paths"], params["exclude"]) == ("release/2", ["docs/**"], ["docs/drafts/"])
    await run_jobs()

    job = await api.job("handbook", response.json()["id"])
    assert job["status"] == "done", job
    documents = {doc["source_key"]: doc for doc in await api.documents("handbook")}
    assert set(documents) == {"docs/shifts.md", "docs/handover.md"}
    assert documents["docs/shifts.md"]["metadata"]["branch"] == "release/2"
    assert documents["docs/shifts.md"]["title"] == "Shifts"

    default = await api.post("/handbook/ingest", {"kind": "git", "source": served_repo, "paths": ["*.py"]})
    await run_jobs()
    assert (await api.job("handbook", default.json()["id"]))["status"] == "done"
    documents = {doc["source_key"]: doc for doc in await api.documents("handbook")}
    assert set(documents) == {"docs/shifts.md", "docs/handover.md", "src/rota.py"}
    assert "branch" not in documents["src/rota.py"]["metadata"]


async def test_a_missing_branch_fails_the_job_saying_so(
    api: KnowledgeApi, run_jobs: RunJobs, ctx: AppContext, served_repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctx.settings, "crawl_allow_private", True)
    await api.create_kb("handbook")
    response = await api.post("/handbook/ingest", {"kind": "git", "source": served_repo, "branch": "release/3"})
    assert response.status_code == 202, response.text
    await run_jobs()
    job = await api.job("handbook", response.json()["id"])
    assert job["status"] == "failed"
    assert job["error"] == "The repository has no branch or tag 'release/3'."

    nothing = await api.post("/handbook/ingest", {"kind": "git", "source": served_repo, "paths": ["manual/**"]})
    await run_jobs()
    job = await api.job("handbook", nothing.json()["id"])
    assert job["status"] == "failed"
    assert job["error"] == "The repository has no markdown, text or code files matching paths manual/** to ingest."


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("branch", "--upload-pack=touch /tmp/x", "cannot start with '-'"),
        ("branch", "main..dev", "cannot contain '..'"),
        ("branch", "a" * 256, "at most 255 characters"),
        ("paths", ["docs/**"] * 51, "at most 50 items"),
        ("paths", ["a\tb"], "control characters"),
        ("exclude", ["x" * 301], "at most 300 characters"),
    ],
)
async def test_a_bad_branch_or_path_pattern_is_refused_before_a_job_exists(
    api: KnowledgeApi, field: str, value: object, message: str
) -> None:
    await api.create_kb("handbook")
    body = {"kind": "git", "source": "https://git.example.com/handbook.git", field: value}
    response = await api.post("/handbook/ingest", body)
    assert response.status_code == 422, response.text
    assert message in response.text
    assert (await api.get("/handbook/jobs")).json()["total"] == 0


@pytest.fixture
async def docs_host() -> AsyncIterator[LocalSite]:
    """Another host (127.0.0.2) that the support site links to."""
    routes = {
        "/": _page("Docs", "The manual.", ["/manual", "/blog/launch"]),
        "/manual": _page("Manual", "Step one.", []),
        "/blog/launch": _page("Launch", "We launched.", []),
    }
    server = LocalSite(routes, host="127.0.0.2")
    yield server
    server.close()


async def test_a_crawl_job_stays_on_its_host_unless_allowed_and_keeps_to_its_paths(
    api: KnowledgeApi,
    run_jobs: RunJobs,
    ctx: AppContext,
    site: LocalSite,
    docs_host: LocalSite,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ctx.settings, "crawl_allow_private", True)
    site.routes["/"] = _page("Home", "Welcome.", ["/about", docs_host.url + "/"])
    await api.create_kb("support")
    on_its_own = await api.post("/support/ingest", {"kind": "crawl", "url": site.url + "/"})
    await run_jobs()
    assert (await api.job("support", on_its_own.json()["id"]))["status"] == "done"
    assert {doc["source_key"] for doc in await api.documents("support")} == {site.url + "/", site.url + "/about"}
    assert docs_host.requests == []

    body = {"kind": "crawl", "url": site.url + "/", "allowed_hosts": ["127.0.0.2"], "exclude": ["blog/"]}
    widened = await api.post("/support/ingest", body)
    assert widened.status_code == 202, widened.text
    assert widened.json()["params"]["allowed_hosts"] == ["127.0.0.2"]
    await run_jobs()
    job = await api.job("support", widened.json()["id"])
    assert job["status"] == "done", job
    keys = {doc["source_key"] for doc in await api.documents("support")}
    assert keys == {site.url + "/", site.url + "/about", docs_host.url + "/", docs_host.url + "/manual"}
    assert "/blog/launch" not in docs_host.paths()
    assert all(item["key"] != docs_host.url + "/blog/launch" for item in job["report"])  # out of scope: not listed


async def test_an_allowed_host_with_a_private_address_is_refused_like_the_start_url(api: KnowledgeApi) -> None:
    await api.create_kb("support")
    body = {"kind": "crawl", "url": "https://93.184.216.34/", "allowed_hosts": ["169.254.169.254"]}
    response = await api.post("/support/ingest", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "blocked_address"
    assert "169.254.169.254" in response.json()["error"]["message"]
    for host in ("https://docs.example.com", "docs.example.com:8443", "docs.example.com/manual"):
        refused = await api.post(
            "/support/ingest", {"kind": "crawl", "url": "https://93.184.216.34/", "allowed_hosts": [host]}
        )
        assert refused.status_code == 422, refused.text
        assert "is not a host name" in refused.text
