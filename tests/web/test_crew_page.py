"""The crew pages in a real browser, against the local Jira, Confluence and GitLab and a job worker of the crew's
task: start a run from the page, watch it reach the stories approval, read the stories, approve them and see the run
move on to the design approval with its Jira issues linked; a viewer sees no start or answer controls and a forged
post is refused; an answer the crew refuses is explained on the page; a run's page follows the run's server-sent
events instead of polling."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.crew.connections.schemas import ConnectionIn
from opsdesk.crew.connections.secrets import TokenCipher
from opsdesk.crew.connections.service import put_connection
from opsdesk.crew.demo.servers.run import DemoVendors
from opsdesk.crew.runs import service as crew_runs
from opsdesk.crew.runs import tasks as _tasks  # noqa: F401  (registers crew.advance)
from opsdesk.crew.runs.models import CrewRun
from opsdesk.crew.runs.schemas import RunIn
from opsdesk.jobs import registry
from opsdesk.jobs.worker import JobWorker
from tests.web.conftest import ConsoleServer, People, photograph, sign_in

TOKEN = "tok-web-crew-5b4a39281706"
SAMPLE = (
    Path(__file__).resolve().parents[2] / "src" / "opsdesk" / "crew" / "samples" / "support_tickets.md"
).read_text()
MARKED_UP = "<b>Bold</b> <img src=x> tickets\n\n"
RUN_URL = re.compile(r"/crew/runs/[0-9a-f-]{36}\?done=")


@pytest.fixture(scope="module")
def crew_desk(
    console: ConsoleServer, people: People, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoVendors]:
    """The console's workspace connected to a local Jira, Confluence and GitLab, and a worker of `crew.advance` on the
    server's loop (what `opsdesk worker` does in production)."""
    vendors = DemoVendors.start(tmp_path_factory.mktemp("vendors"), token=TOKEN)
    worker: dict[str, JobWorker] = {}

    async def connect_and_work(ctx: AppContext) -> None:
        cipher = TokenCipher(ctx.settings.jwt_secret())
        async with ctx.db.session() as db:
            workspace = await auth.get_workspace(db, people.workspace)
            for vendor, url, username, scope in (
                ("jira", vendors.jira.url, "opsdesk", "DEMO"),
                ("confluence", vendors.confluence.url, "opsdesk", "DEMO"),
                ("gitlab", vendors.gitlab.url, None, "opsdesk/demo"),
            ):
                body = ConnectionIn(base_url=url, username=username, token=TOKEN, scope=scope)
                await put_connection(db, workspace.id, vendor, body, cipher)  # type: ignore[arg-type]
        only = {crew_runs.ADVANCE_TASK: registry.get(crew_runs.ADVANCE_TASK)}
        worker["crew"] = JobWorker(ctx, tasks=only, poll_s=0.05, schedules=False)
        worker["crew"].start()

    async def stop(ctx: AppContext) -> None:
        await worker["crew"].stop()

    console.call(connect_and_work)
    try:
        yield vendors
    finally:
        if "crew" in worker:
            console.call(stop)
        vendors.stop()


def serious_axe_violations(page: Any) -> list[str]:
    """axe's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def csp_violations(page: Any) -> list[str]:
    """Console messages about the Content-Security-Policy from now on (an inline script or style would be one)."""
    found: list[str] = []
    page.on(
        "console", lambda message: found.append(message.text) if "Content Security Policy" in message.text else None
    )
    return found


def _start_run(page: Any, console: ConsoleServer, people: People) -> str:
    sign_in(page, console, people.admin, next_path="/crew")
    page.get_by_label("Requirement").fill(SAMPLE)
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(RUN_URL)
    page.get_by_role("status").get_by_text("Run started").wait_for()
    return str(page.url.split("/crew/runs/")[1].split("?")[0])


def test_a_run_started_from_the_page_stops_for_the_stories_and_moves_on_when_approved(
    page: Any, console: ConsoleServer, people: People, crew_desk: DemoVendors
) -> None:
    blocked = csp_violations(page)
    run_id = _start_run(page, console, people)
    # The page polls while the run works and reloads itself when it stops at the gate.
    answer = page.get_by_role("region", name="Approval: stories")
    answer.wait_for(timeout=60_000)
    assert page.locator("#run-live").get_by_text("waiting for approval: stories").count() == 1
    stories = page.get_by_role("region", name="Stories")
    assert stories.locator("ol.stories > li").count() >= 2
    assert "Given " in stories.locator("ul.criteria").first.inner_text()
    assert page.get_by_role("region", name="Requirement").locator("pre").inner_text().strip() == SAMPLE.strip()
    assert serious_axe_violations(page) == []
    photograph(page, "crew-run")

    page.get_by_role("button", name="Approve the stories").click()
    page.get_by_role("status").get_by_text("Approved: the run goes on.").wait_for()
    page.get_by_role("region", name="Approval: design").wait_for(timeout=60_000)
    page.get_by_role("region", name="Design").get_by_role("heading", name="Modules").wait_for()
    jira_links = page.get_by_role("region", name="Items in Jira, GitLab and Confluence").get_by_role("link")
    assert jira_links.count() >= 3
    assert jira_links.first.get_attribute("href").startswith(f"{crew_desk.jira.url}/browse/")
    steps = page.locator("table.steps tbody").inner_text()
    assert "approve_stories" in steps and "approved" in steps and "jira_stories" in steps

    page.goto(f"{console.url}/crew")
    row = page.locator("table.runs tbody tr").filter(has=page.locator(f'a[href="/crew/runs/{run_id}"]'))
    assert "waiting for approval: design" in row.inner_text()
    assert serious_axe_violations(page) == [] and blocked == []


def test_a_misfit_edit_is_explained_and_a_rejection_sends_the_stories_back_to_the_analyst(
    page: Any, console: ConsoleServer, people: People, crew_desk: DemoVendors
) -> None:
    run_id = _start_run(page, console, people)
    run_url = f"{console.url}/crew/runs/{run_id}"
    page.get_by_role("region", name="Approval: stories").wait_for(timeout=60_000)
    page.get_by_text("Edit the backlog").click()
    page.get_by_label("Edited backlog (JSON, the whole artefact)").fill('{"epics": "not a list"}')
    page.get_by_role("button", name="Save the edited backlog and go on").click()
    page.get_by_text("The edited backlog is not valid").wait_for()  # the crew's 422, shown with the request id
    assert page.get_by_text("Request id").count() == 1

    page.goto(run_url)  # the run still waits
    page.get_by_label("What must change in the stories (the step runs again with this comment)").fill(
        "Split the ticket story in two."
    )
    page.get_by_role("button", name="Reject the stories with comment").click()
    page.get_by_role("status").get_by_text("Rejected: the step runs again").wait_for()
    page.get_by_role("region", name="Approval: stories").wait_for(timeout=60_000)  # the analyst ran again
    steps = page.locator("table.steps tbody")
    assert "rejected" in steps.inner_text() and "Split the ticket story in two." in steps.inner_text()
    assert steps.get_by_text("analyse").count() == 2
    # the gate shows what the analyst changed: the JSON of the backlog, diffed against the version rejected
    changes = page.get_by_role("region", name="Approval: stories").get_by_role(
        "region", name="What changed since the last version"
    )
    added = " ".join(changes.locator(".add").all_text_contents())
    assert "Follow-up from review: Split the ticket story in two." in added and added.lstrip().startswith("+")
    assert changes.locator(".del").count() >= 1  # the old end of the stories list
    assert serious_axe_violations(page) == []
    photograph(page, "crew-run-diff")


def test_a_rejected_pipeline_comes_back_with_a_diff_of_each_file_it_changed(
    page: Any, console: ConsoleServer, people: People, crew_desk: DemoVendors
) -> None:
    _start_run(page, console, people)
    for gate in ("stories", "design"):
        page.get_by_role("region", name=f"Approval: {gate}").wait_for(timeout=120_000)
        page.get_by_role("button", name=f"Approve the {gate}").click()
        page.get_by_role("status").get_by_text("Approved: the run goes on.").wait_for(timeout=60_000)
    pipeline = page.get_by_role("region", name="Approval: pipeline")
    pipeline.wait_for(timeout=120_000)
    changes = pipeline.get_by_role("region", name="What changed since the last version")
    assert changes.count() == 0  # a first version has nothing to compare with
    # the branches' gates are answered together: the rejected one's step runs once the other has its answer
    page.get_by_role("button", name="Approve the tests").click()
    page.get_by_role("status").get_by_text("Approved: the run goes on.").wait_for(timeout=60_000)
    pipeline.wait_for(timeout=60_000)

    page.get_by_label("What must change in the pipeline (the step runs again with this comment)").fill(
        "Cache pip downloads <between> jobs."
    )
    page.get_by_role("button", name="Reject the pipeline with comment").click()
    page.get_by_role("status").get_by_text("Rejected: the step runs again").wait_for()
    changes.wait_for(timeout=120_000)  # DevOps ran again and the gate waits with the new files
    ci = changes.get_by_role("region", name=".gitlab-ci.yml")
    assert "changed" in ci.get_by_role("heading").inner_text()
    assert ci.locator(".add").all_text_contents() == ["+# TODO (review): Cache pip downloads <between> jobs."]
    assert ci.locator(".hunk").first.inner_text().startswith("@@ ")
    assert "Dockerfile" in changes.get_by_text(re.compile("^Unchanged:")).inner_text()
    assert serious_axe_violations(page) == []


def test_a_viewer_sees_no_start_or_answer_controls_and_a_forged_post_is_refused(
    page: Any, console: ConsoleServer, people: People, crew_desk: DemoVendors
) -> None:
    async def start_marked_up_run(ctx: AppContext) -> str:
        async with ctx.db.session() as db:
            workspace = await auth.get_workspace(db, people.workspace)
            body = RunIn(requirement=MARKED_UP + SAMPLE)
            return str((await crew_runs.create_run(db, workspace.id, body, created_by="test")).id)

    run_id = console.call(start_marked_up_run)
    sign_in(page, console, people.viewer, next_path="/crew")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Crew").count() == 1
    assert page.get_by_role("button", name="Start the run").count() == 0
    page.locator(f'table.runs a[href="/crew/runs/{run_id}"]').click()
    page.get_by_role("region", name="Progress").wait_for()
    # The requirement is text, never markup.
    assert MARKED_UP.strip() in page.get_by_role("region", name="Requirement").locator("pre").inner_text()
    assert page.locator("main img, main b").count() == 0
    assert page.get_by_role("button", name=re.compile("^(Approve|Save|Reject) ")).count() == 0
    assert page.get_by_role("button", name="Resume the run").count() == 0
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    run_path = page.url.split(console.url)[1].split("?")[0]
    for path, form in (
        ("/crew/runs", {"requirement": SAMPLE}),
        (f"{run_path}/answer", {"decision": "approve"}),
        (f"{run_path}/resume", {}),
    ):
        forged = page.request.post(
            f"{console.url}{path}", form={"csrf_token": token, **form}, headers={"Origin": console.url}
        )
        assert forged.status == 403 and "Request id" in forged.text(), path


def test_a_run_approved_at_every_gate_from_the_page_completes_with_its_report_pipeline_docs_and_links(
    page: Any, console: ConsoleServer, people: People, crew_desk: DemoVendors
) -> None:
    _start_run(page, console, people)
    for gate in ("stories", "design", "tests", "pipeline", "merge request"):  # tests and pipeline wait side by side
        page.get_by_role("region", name=f"Approval: {gate}").wait_for(timeout=120_000)
        page.get_by_role("button", name=f"Approve the {gate}").click()
        try:  # CI once stayed on …/answer for 20 s (at which gate, and with what page, is what this shows)
            page.get_by_role("status").get_by_text("Approved: the run goes on.").wait_for(timeout=60_000)
        except Exception as exc:
            raise AssertionError(f"approving the {gate}: still at {page.url}\n{page.content()[:3000]}") from exc
    page.locator("#run-status").get_by_text("completed", exact=True).wait_for(timeout=120_000)

    report = page.get_by_role("region", name="Test report")
    assert " passed · 0 failed" in report.inner_text()
    assert page.get_by_role("region", name="Generated project").locator("ul.files li").count() >= 5
    assert page.get_by_role("region", name="Pipeline").locator("details").count() >= 1
    assert page.get_by_role("region", name="Docs").locator("details").count() >= 2
    links = page.get_by_role("region", name="Items in Jira, GitLab and Confluence")
    merge_request = links.get_by_role("link").filter(has_text=crew_desk.gitlab.url)
    assert merge_request.count() == 1
    assert "Confluence" in links.inner_text()
    assert page.get_by_role("region", name=re.compile("^Approval: ")).count() == 0


def test_the_start_form_sent_twice_opens_one_run(
    page: Any, console: ConsoleServer, people: People, crew_desk: DemoVendors
) -> None:
    sign_in(page, console, people.admin, next_path="/crew")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    form_key = page.locator('input[name="form_key"]').get_attribute("value")
    form = {"csrf_token": token, "form_key": form_key, "requirement": SAMPLE, "model": "local"}
    headers = {"Origin": console.url}
    first = page.request.post(f"{console.url}/crew/runs", form=form, headers=headers, max_redirects=0)
    again = page.request.post(f"{console.url}/crew/runs", form=form, headers=headers, max_redirects=0)
    assert first.status == again.status == 303
    assert first.headers["location"] == again.headers["location"]
    other = page.request.post(
        f"{console.url}/crew/runs", form={**form, "form_key": "another"}, headers=headers, max_redirects=0
    )
    assert other.status == 303 and other.headers["location"] != first.headers["location"]


def test_a_run_page_follows_the_runs_events_and_asks_for_nothing_while_the_run_stands_still(
    page: Any, console: ConsoleServer, people: People
) -> None:
    """No worker takes this run (none is queued): the test moves it by hand, as a worker's steps would."""

    async def create(ctx: AppContext) -> str:
        async with ctx.db.session() as db:
            workspace = await auth.get_workspace(db, people.workspace)
            run = await crew_runs.create_run(db, workspace.id, RunIn(requirement=SAMPLE), created_by="test",
                                             enqueue_start=False)  # fmt: skip
            return str(run.id)

    def move(run_id: str, status: str, steps: list[dict[str, Any]]) -> None:
        async def update(ctx: AppContext) -> None:
            async with ctx.db.session() as db:
                run = await db.get(CrewRun, uuid.UUID(run_id))
                assert run is not None
                run.status, run.steps, run.tokens = status, steps, run.tokens + 100

        console.call(update)

    run_id = console.call(create)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    blocked = csp_violations(page)
    sign_in(page, console, people.viewer, next_path=f"/crew/runs/{run_id}")
    page.get_by_text("Queued: a worker starts the first step.").wait_for()
    for _ in range(200):  # until the page has opened the run's event stream
        if any(url.endswith(f"/crew/runs/{run_id}/events") for url in asked):
            break
        page.wait_for_timeout(50)
    page.wait_for_timeout(3000)  # longer than the old 2 s poll: nothing changed, so nothing is asked for
    assert [url for url in asked if "part=live" in url] == []  # the stream's first event says what the page shows

    analyse = {"step": "analyse", "status": "running", "started_at": "2026-12-07T04:00:00", "detail": "reading"}
    move(run_id, "running", [analyse])
    steps = page.locator("table.steps tbody")
    steps.get_by_text("analyse").wait_for()
    assert "reading" in steps.inner_text() and "100 tokens" in page.locator("#run-live").inner_text()

    move(run_id, "completed", [{**analyse, "status": "done", "seconds": 1.5, "detail": "4 stories"}])
    page.locator("#run-status").get_by_text("completed", exact=True).wait_for()  # the page reloaded for the end
    assert "4 stories" in page.locator("table.steps tbody").inner_text()
    assert page.locator("#run-live[hx-get]").count() == 0  # a finished run is not followed
    streams = [url for url in asked if url.endswith(f"/crew/runs/{run_id}/events")]
    assert len(streams) == 1  # one stream, closed by its last event rather than reconnected
    assert blocked == []
