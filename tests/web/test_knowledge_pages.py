"""A knowledge document in a real browser: its versions, the chunks answers cite, the stored file as a sandboxed
download, and deleting it; a viewer reads but cannot delete; an upload without JavaScript lands on the job's own page.
Both pages pass axe and are photographed."""

from __future__ import annotations

import re
from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.knowledge import service as knowledge
from opsdesk.knowledge.ingest import service as ingest
from opsdesk.knowledge.ingest.staging import SourceFile
from opsdesk.knowledge.schemas import KnowledgeBaseIn
from tests.web.conftest import ConsoleServer, People, photograph, sign_in
from tests.web.test_calls_page import serious_axe_violations

POLICY = (
    b"# Returns policy\n\n## Window\n\nUnopened cartons can be returned within 14 days of delivery.\n\n"
    b"## Fees\n\nA restocking fee of 10 % applies to orders above SGD 500.\n"
)


async def _policy_base(ctx: AppContext, name: str) -> None:
    async with ctx.db.session() as session:
        workspace = await auth.get_workspace(session, "acme")
        kb = await knowledge.create_kb(session, workspace.id, KnowledgeBaseIn(name=name))
        source = SourceFile("returns-policy.md", POLICY, "returns-policy.md", "text/markdown", [], {}, None)
        await ingest.queue_files(session, kb, [source])


def _open_document(page: Any, console: ConsoleServer, email: str, kb: str) -> None:
    sign_in(page, console, email, next_path=f"/knowledge/{kb}")
    link = page.get_by_role("link", name="returns-policy.md")
    ready = page.get_by_role("row", name=re.compile("returns-policy.md.*ready"))
    for _ in range(120):  # the in-process worker ingests it in a moment
        if ready.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    link.click()
    page.get_by_role("heading", name="Versions").wait_for()


def test_a_document_shows_its_versions_and_the_chunks_answers_cite(
    page: Any, console: ConsoleServer, people: People
) -> None:
    console.call(lambda ctx: _policy_base(ctx, "policies"))
    _open_document(page, console, people.admin, "policies")
    page.get_by_role("heading", name=re.compile("^Chunks of v")).wait_for(timeout=60_000)
    chunks = page.locator("ol.chunks li").all_text_contents()
    assert any("within 14 days of delivery" in chunk for chunk in chunks)
    assert any("10 %" in chunk and "SGD 500" in chunk for chunk in chunks)
    versions = page.get_by_role("region", name="Versions").locator("tbody tr")
    assert versions.count() == 1
    assert serious_axe_violations(page) == []
    photograph(page, "knowledge-document")

    href = page.get_by_role("link", name="Download the stored file").get_attribute("href")
    answer = page.request.get(f"{console.url}{href}")
    assert answer.status == 200 and answer.body() == POLICY
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.headers["content-security-policy"] == "sandbox"


def test_an_admin_deletes_a_document_and_a_viewer_cannot(page: Any, console: ConsoleServer, people: People) -> None:
    console.call(lambda ctx: _policy_base(ctx, "old-policies"))
    _open_document(page, console, people.viewer, "old-policies")
    assert page.get_by_role("button", name="Delete the document").count() == 0
    document_url = page.url.split("?")[0]
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = page.request.post(f"{document_url}/delete", form={"csrf_token": token}, headers={"Origin": console.url})
    assert forged.status == 403

    page.context.clear_cookies()
    _open_document(page, console, people.admin, "old-policies")
    page.get_by_role("button", name="Delete the document").click()
    page.wait_for_url("**/knowledge/old-policies?done=deleted")
    page.get_by_role("status").get_by_text("The document was deleted.").wait_for()
    assert page.get_by_role("link", name="returns-policy.md").count() == 0
    assert page.request.get(document_url).status == 404


def test_an_upload_without_javascript_lands_on_the_jobs_page_which_shows_it_done(
    browser: Any, page: Any, console: ConsoleServer, people: People
) -> None:
    console.call(lambda ctx: _policy_base(ctx, "no-script"))
    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        sign_in(plain, console, people.admin, next_path="/knowledge/no-script")
        plain.get_by_label("Add documents").set_input_files(
            files=[{"name": "hours.md", "mimeType": "text/markdown", "buffer": b"# Hours\n\nOpen 8 to 6.\n"}]
        )
        plain.get_by_role("button", name="Upload").click()  # a plain form post: the answer is the job's page
        plain.wait_for_url(re.compile(r"/knowledge/no-script/jobs/[0-9a-f-]+$"))
        job_url = plain.url
    finally:
        context.close()

    sign_in(page, console, people.admin, next_path=job_url.removeprefix(console.url))
    page.get_by_role("heading", name="Uploading to no-script").wait_for()
    page.locator('.job[data-job-status="done"]').wait_for(timeout=90_000)  # the bar followed the job to done
    assert "hours.md (ingested)" in page.locator(".job").inner_text()
    assert serious_axe_violations(page) == []
    photograph(page, "knowledge-job")
