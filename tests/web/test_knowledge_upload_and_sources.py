"""Knowledge uploads and sources in a real browser: dropped files whose progress bar follows the job's event stream to
done and whose documents then appear; the API's message for a wrong type or an oversized file; a viewer with no upload
control and a refused forged upload; a git repository (a bare one served over http) added as a source, synced and
synced again, listing its documents; one read at a branch and path patterns from the form, synced again with them; a
web crawl added with its depth and page limit, and one allowed onto a second host with paths left out; a path queued
from the CLI, listed but never synced by the console."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.knowledge import service as knowledge
from opsdesk.knowledge.ingest import service as ingest
from opsdesk.knowledge.ingest.schemas import GitIngest
from opsdesk.knowledge.schemas import KnowledgeBaseIn
from tests.knowledge.local_site import LocalSite, Route
from tests.web.conftest import ConsoleServer, People, photograph, sign_in
from tests.web.git_http import GitHttpServer, git_or_skip, make_bare_repo

REPO_FILES = {
    "README.md": "# Handbook\n\nHow the support team works.\n",
    "docs/shifts.md": "# Shifts\n\nThe early shift starts at 07:00.\n",
    "tools/rota.py": "def rota() -> list[str]:\n    return ['ana', 'ben']\n",
}


def _make_base(console: ConsoleServer, name: str) -> None:
    async def create(ctx: AppContext) -> None:
        async with ctx.db.session() as session:
            workspace = await auth.get_workspace(session, "acme")
            await knowledge.create_kb(session, workspace.id, KnowledgeBaseIn(name=name))

    console.call(create)


def _drop(page: Any, files: dict[str, str]) -> None:
    """Drops files on the drop zone as a user dragging them from the desktop would."""
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, text] of Object.entries(files)) {
                transfer.items.add(new File([text], name, {type: "text/plain"}));
            }
            return transfer;
        }""",
        files,
    )
    page.dispatch_event("[data-drop-zone]", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("[data-drop-zone]", "drop", {"dataTransfer": transfer})


def _serious_axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v["id"] for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def _forged_post(page: Any, console: ConsoleServer, path: str, **parts: Any) -> int:
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.post(
        f"{console.url}{path}", multipart={"csrf_token": token, **parts}, headers={"Origin": console.url}
    )
    return int(answer.status)


def test_dropped_files_follow_the_job_stream_to_done_and_their_documents_appear(
    page: Any, console: ConsoleServer, people: People
) -> None:
    _make_base(console, "dropped")
    streams: list[str] = []
    page.on("request", lambda request: streams.append(request.url) if request.url.endswith("/events") else None)
    sign_in(page, console, people.admin, next_path="/knowledge/dropped")
    assert page.get_by_text("No documents in dropped yet").is_visible()

    _drop(page, {"returns.md": "# Returns\n\nWithin 30 days.\n", "hours.txt": "Open 8 to 6 on weekdays.\n"})
    job = page.locator("#upload-jobs .job")
    job.wait_for()
    page.locator('#upload-jobs .job[data-job-status="done"]').wait_for(timeout=90_000)
    assert job.locator("progress").get_attribute("value") == "100"
    assert re.search(r"Ingestion done: 2 of 2 files done", job.inner_text())
    assert "returns.md (ingested)" in job.inner_text() and "hours.txt (ingested)" in job.inner_text()
    assert len(streams) == 1 and "/knowledge/dropped/jobs/" in streams[0]  # the bar followed the event stream
    documents = page.locator("#documents")  # refreshed in place when the job finished, no reload
    documents.get_by_role("rowheader", name="returns.md").wait_for()
    documents.get_by_role("rowheader", name="hours.txt").wait_for()

    page.get_by_label("Add documents").set_input_files(  # the keyboard's way: a second job gets its own bar
        files=[{"name": "faq.md", "mimeType": "text/markdown", "buffer": b"# FAQ\n\nAsk us anything.\n"}]
    )
    page.get_by_role("button", name="Upload").click()
    page.locator('#upload-jobs .job[data-job-status="done"]').nth(1).wait_for(timeout=90_000)
    assert page.locator("#upload-jobs .job").count() == 2
    documents.get_by_role("rowheader", name="faq.md").wait_for()
    assert _serious_axe_violations(page) == []


def test_a_wrong_type_or_an_oversized_upload_shows_why_in_the_page(
    page: Any, console: ConsoleServer, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_base(console, "refusals")
    monkeypatch.setattr(console.ctx.settings, "max_upload_bytes", 2_000)
    sign_in(page, console, people.admin, next_path="/knowledge/refusals")
    files = page.get_by_label("Add documents")
    error = page.locator("#upload-error").get_by_role("alert")
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    files.set_input_files(files=[{"name": "photo.png", "mimeType": "image/png", "buffer": png}])
    page.get_by_role("button", name="Upload").click()
    error.filter(has_text="photo.png").wait_for()  # the API refused it (415) and said why
    assert "'photo.png': The file is a PNG image, which is not a supported document type." in error.inner_text()
    assert "(error 415)" in error.inner_text()

    big = {"name": "big.md", "mimeType": "text/markdown", "buffer": b"# Big\n" + b"x" * 5_000}
    files.set_input_files(files=[big])
    page.get_by_role("button", name="Upload").click()
    error.filter(has_text="big.md").wait_for()  # said before the bytes travel, as the API would say it
    assert error.inner_text() == "'big.md' is 5,006 bytes, more than the upload limit of 2,000 bytes."

    halves = [{"name": f"half-{n}.md", "mimeType": "text/markdown", "buffer": b"y" * 1_500} for n in (1, 2)]
    files.set_input_files(files=halves)  # each file fits; together the request does not, and the API says so
    page.get_by_role("button", name="Upload").click()
    error.filter(has_text="exceeds").wait_for()
    assert "The request body exceeds the limit of 2000 bytes. (error 413)" in error.inner_text()
    assert page.locator("#upload-jobs .job").count() == 0
    assert page.get_by_text("No documents in refusals yet").is_visible()
    assert _serious_axe_violations(page) == []


def test_a_viewer_sees_no_upload_or_source_controls_and_forged_posts_are_refused(
    page: Any, console: ConsoleServer, people: People
) -> None:
    _make_base(console, "viewers-only")
    sign_in(page, console, people.viewer, next_path="/knowledge/viewers-only")
    assert page.locator("[data-drop-zone]").count() == 0
    assert page.get_by_label("Add documents").count() == 0
    upload = {"files": {"name": "planted.md", "mimeType": "text/markdown", "buffer": b"# Planted\n"}}
    assert _forged_post(page, console, "/knowledge/viewers-only/documents", **upload) == 403

    page.get_by_role("link", name="Crawl and git sources").click()
    page.get_by_role("heading", name="Sources of viewers-only").wait_for()
    assert page.get_by_text("No crawl or git sources in viewers-only yet.").is_visible()
    assert page.get_by_role("button", name=re.compile("Add crawl|Add repository|Sync")).count() == 0
    assert _forged_post(page, console, "/knowledge/viewers-only/sources/git", url="https://example.com/r.git") == 403


@pytest.fixture
def served_repo(tmp_path: Path) -> Iterator[str]:
    git_or_skip()
    make_bare_repo(tmp_path, REPO_FILES)
    server = GitHttpServer(tmp_path)
    try:
        yield f"{server.url}/handbook.git"
    finally:
        server.close()


def test_a_git_source_is_added_synced_again_and_lists_its_documents(
    page: Any, console: ConsoleServer, people: People, served_repo: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.ctx.settings, "crawl_allow_private", True)  # the repository is on 127.0.0.1
    _make_base(console, "team-handbook")
    sign_in(page, console, people.admin, next_path="/knowledge/team-handbook/sources")

    page.get_by_label("Repository URL").fill("file:///srv/handbook.git")
    page.get_by_role("button", name="Add repository").click()  # a path on the server's disk: refused as by the API
    assert page.get_by_role("alert").get_by_text("is not an http(s) repository URL").is_visible()
    page.go_back()

    page.get_by_label("Repository URL").fill(served_repo)
    page.get_by_role("button", name="Add repository").click()
    page.wait_for_url("**/sources?done=added")
    row = page.get_by_role("row", name=served_repo)
    row.locator('[data-sync-status="done"]').wait_for(timeout=90_000)  # the row's live bar, then the refreshed table
    assert "3 ingested" in row.inner_text() and "1 sync" in row.inner_text()
    row.get_by_text("3 documents").click()
    for path in REPO_FILES:
        assert row.get_by_role("link", name=path).is_visible()

    row.get_by_role("button", name=f"Sync {served_repo} now").click()
    page.wait_for_url("**/sources?done=synced")
    row.get_by_text("2 syncs").wait_for(timeout=90_000)
    row.locator('[data-sync-status="done"]').wait_for(timeout=90_000)
    assert "0 ingested, 3 unchanged or skipped, 0 failed" in row.inner_text()

    assert _serious_axe_violations(page) == []
    photograph(page, "knowledge-sources")

    page.get_by_role("link", name="← team-handbook").click()
    for path in REPO_FILES:
        page.locator("#documents").get_by_role("rowheader", name=path).wait_for()


RELEASE_2 = {
    "docs/shifts.md": "# Shifts\n\nThe early shift starts at 06:30.\n",
    "docs/handover.md": "# Handover\n\nWrite down open tickets.\n",
    "docs/drafts/holidays.md": "# Holidays\n\nNot decided yet.\n",
}


@pytest.fixture
def served_branches(tmp_path: Path) -> Iterator[str]:
    git_or_skip()
    make_bare_repo(tmp_path, REPO_FILES, branches={"release/2": RELEASE_2})
    server = GitHttpServer(tmp_path)
    try:
        yield f"{server.url}/handbook.git"
    finally:
        server.close()


def test_a_git_source_reads_the_branch_and_paths_from_the_form_and_its_sync_keeps_them(
    page: Any, console: ConsoleServer, people: People, served_branches: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.ctx.settings, "crawl_allow_private", True)  # the repository is on 127.0.0.1
    _make_base(console, "release-notes")
    sign_in(page, console, people.admin, next_path="/knowledge/release-notes/sources")

    page.get_by_label("Repository URL").fill(served_branches)
    page.get_by_label("Branch or tag").fill("--upload-pack=touch /tmp/x")
    page.get_by_role("button", name="Add repository").click()  # refused by git's branch-name rules, as by the API
    assert page.get_by_role("alert").get_by_text("a branch name cannot start with '-'").is_visible()
    page.go_back()

    page.get_by_label("Repository URL").fill(served_branches)
    page.get_by_label("Branch or tag").fill("release/2")
    page.get_by_label("Only files matching").fill("docs/**")
    page.get_by_label("Never files matching").fill("docs/drafts/")
    page.get_by_role("button", name="Add repository").click()
    page.wait_for_url("**/sources?done=added")
    row = page.get_by_role("row", name=served_branches)
    row.locator('[data-sync-status="done"]').wait_for(timeout=90_000)
    text = row.inner_text()
    assert "Branch release/2" in text and "Only paths: docs/**" in text and "Never paths: docs/drafts/" in text
    assert "2 ingested" in text
    row.get_by_text("2 documents").click()
    assert row.get_by_role("link", name="docs/handover.md").is_visible()
    assert row.get_by_role("link", name="README.md").count() == 0

    row.get_by_role("button", name=f"Sync {served_branches} now").click()
    page.wait_for_url("**/sources?done=synced")
    row.get_by_text("2 syncs").wait_for(timeout=90_000)
    row.locator('[data-sync-status="done"]').wait_for(timeout=90_000)
    assert "0 ingested, 2 unchanged or skipped, 0 failed" in row.inner_text()  # the same branch and paths again
    data = page.request.get(f"{console.url}/knowledge/release-notes/sources?format=json").json()
    (source,) = data["sources"]
    assert (source["branch"], source["paths"], source["exclude"]) == ("release/2", ["docs/**"], ["docs/drafts/"])
    assert source["last_sync"]["params"]["branch"] == "release/2"
    assert _serious_axe_violations(page) == []


def _html(title: str, links: list[str]) -> Route:
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    body = f"<h1>{title}</h1><p>{title} text.</p>{anchors}"
    return Route(f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode())


@pytest.fixture
def site() -> Iterator[LocalSite]:
    served = LocalSite(
        {
            "/robots.txt": Route(b"User-agent: *\nAllow: /\n", "text/plain"),
            "/": _html("Help centre", ["/returns", "/deep"]),
            "/returns": _html("Returns", ["/"]),
            "/deep": _html("Deep", ["/deeper"]),
            "/deeper": _html("Deeper", []),
        }
    )
    yield served
    served.close()


def test_a_web_crawl_source_keeps_to_its_depth_and_reports_its_last_sync(
    page: Any, console: ConsoleServer, people: People, site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.ctx.settings, "crawl_allow_private", True)  # the site is on 127.0.0.1
    _make_base(console, "help-centre")
    sign_in(page, console, people.admin, next_path="/knowledge/help-centre/sources")
    page.get_by_label("Start URL").fill(site.url + "/")
    page.get_by_label("Depth (links from the start page)").fill("1")
    page.get_by_label("At most this many pages").fill("10")
    page.get_by_role("button", name="Add crawl").click()
    page.wait_for_url("**/sources?done=added")
    row = page.get_by_role("row", name=site.url)
    row.locator('[data-sync-status="done"]').wait_for(timeout=90_000)
    assert "Depth 1, at most 10 pages; stays on 127.0.0.1" in row.inner_text()
    assert "3 ingested" in row.inner_text()  # the start page and the two it links to; /deeper is two links away
    assert "/deeper" not in site.paths()

    data = page.request.get(f"{console.url}/knowledge/help-centre/sources?format=json").json()
    (source,) = data["sources"]
    assert (source["kind"], source["location"], source["max_depth"]) == ("crawl", site.url + "/", 1)
    assert source["last_sync"]["status"] == "done"
    assert sorted(d["key"] for d in source["documents"]) == [site.url + "/", site.url + "/deep", site.url + "/returns"]


async def _source_from_the_cli(ctx: AppContext) -> None:
    async with ctx.db.session() as session:  # what `opsdesk ingest PATH` queues; the console must not sync it
        workspace = await auth.get_workspace(session, "acme")
        kb = await knowledge.create_kb(session, workspace.id, KnowledgeBaseIn(name="from-the-cli"))
        request = GitIngest(kind="git", source="/srv/no-such-repository", tags=[])
        await ingest.queue_git(session, ctx.settings, kb, request, allow_local=True)


def test_a_path_queued_from_the_cli_is_listed_but_the_console_does_not_sync_it(
    page: Any, console: ConsoleServer, people: People
) -> None:
    console.call(_source_from_the_cli)
    sign_in(page, console, people.admin, next_path="/knowledge/from-the-cli/sources")
    row = page.get_by_role("row", name="/srv/no-such-repository")
    for _ in range(60):  # the in-process worker fails it in a moment (no such directory)
        if row.locator('[data-sync-status="failed"]').count():
            break
        page.wait_for_timeout(500)
        page.reload()
    assert "'/srv/no-such-repository' is not a directory." in row.inner_text()
    assert "sync it with opsdesk ingest" in row.inner_text()
    assert row.get_by_role("button").count() == 0
    source_id = row.get_attribute("data-source")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = page.request.post(
        f"{console.url}/knowledge/from-the-cli/sources/{source_id}/sync",
        form={"csrf_token": token},
        headers={"Origin": console.url},
    )
    assert forged.status == 400 and "is not an http(s) repository URL" in forged.text()


def test_a_web_crawl_source_follows_links_to_an_allowed_host_but_not_to_excluded_paths(
    page: Any, console: ConsoleServer, people: People, site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.ctx.settings, "crawl_allow_private", True)  # both sites are on loopback addresses
    routes = {"/": _html("Manual", ["/setup", "/blog/launch"]), "/setup": _html("Setup", [])}
    docs = LocalSite({**routes, "/blog/launch": _html("Launch", [])}, host="127.0.0.2")
    try:
        site.routes["/"] = _html("Help centre", ["/returns", docs.url + "/"])
        _make_base(console, "help-and-docs")
        sign_in(page, console, people.admin, next_path="/knowledge/help-and-docs/sources")
        page.get_by_label("Start URL").fill(site.url + "/")
        page.get_by_label("Other hosts it may follow links to").fill("https://127.0.0.2/")
        page.get_by_role("button", name="Add crawl").click()
        assert page.get_by_role("alert").get_by_text("is not a host name").is_visible()
        page.go_back()

        page.get_by_label("Start URL").fill(site.url + "/")
        page.get_by_label("Other hosts it may follow links to").fill("127.0.0.2")
        page.get_by_label("Never URL paths matching").fill("blog/")
        page.get_by_role("button", name="Add crawl").click()
        page.wait_for_url("**/sources?done=added")
        row = page.get_by_role("row", name=site.url)
        row.locator('[data-sync-status="done"]').wait_for(timeout=90_000)
        assert "stays on 127.0.0.1, 127.0.0.2" in row.inner_text() and "Never paths: blog/" in row.inner_text()
        data = page.request.get(f"{console.url}/knowledge/help-and-docs/sources?format=json").json()
        keys = sorted(d["key"] for d in data["sources"][0]["documents"])
        assert keys == sorted([site.url + "/", site.url + "/returns", docs.url + "/", docs.url + "/setup"])
        assert "/blog/launch" not in docs.paths()
    finally:
        docs.close()
