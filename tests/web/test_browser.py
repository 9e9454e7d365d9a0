"""The console in a real browser (Debian's chromium through Playwright): sign in, home, the planner's chart and
reasons with a what-if, knowledge upload with its progress, API keys shown once and revoked, a viewer who sees no
write button, hostile names that stay text, an accessibility scan and screenshots of every page."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from opsdesk.app.context import AppContext
from opsdesk.knowledge import service as knowledge
from opsdesk.knowledge.ingest import service as ingest
from opsdesk.knowledge.ingest.staging import SourceFile
from opsdesk.knowledge.schemas import KnowledgeBaseIn
from tests.web.conftest import SCREENSHOTS, ConsoleServer, People, sign_in

pytestmark = pytest.mark.slow
EVIL = "<img src=x onerror=alert(1)>"
EVIL_TITLE = "<script>alert(2)</script>"


def _csp_violations(page: Any) -> list[str]:
    found: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", on_console)
    return found


def test_sign_in_lands_on_home_with_what_is_running(page: Any, console: ConsoleServer, people: People) -> None:
    response = page.goto(f"{console.url}/")
    assert page.url.startswith(f"{console.url}/signin?next=")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    sign_in(page, console, people.admin)
    assert page.get_by_role("heading", name="Workspace acme").is_visible()
    assert page.get_by_role("row", name=re.compile("Database")).get_by_text("ok").is_visible()
    assert page.get_by_text("Inventory planner").is_visible()
    assert page.get_by_text("no calls yet").is_visible() and page.get_by_text("no runs yet").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "opsdesk_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False


def test_the_workspace_switcher_moves_to_the_other_workspace(page: Any, console: ConsoleServer, people: People) -> None:
    sign_in(page, console, people.admin)
    page.get_by_label("Workspace").select_option("globex")
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url(f"{console.url}/")
    assert page.get_by_role("heading", name="Workspace globex").is_visible()
    assert page.get_by_text("operator", exact=True).is_visible()
    assert page.get_by_role("link", name="API keys").count() == 0  # an operator there manages nothing


def test_the_planner_page_plots_the_forecast_and_explains_each_line(
    page: Any, console: ConsoleServer, people: People
) -> None:
    violations = _csp_violations(page)
    sign_in(page, console, people.admin, next_path="/planner")
    page.wait_for_selector("#forecast-chart[data-plotted=true] .main-svg")
    assert page.locator("#forecast-chart .legendtext").all_text_contents() == [
        "95 % interval",
        "80 % interval",
        "forecast",
    ]
    reasons = page.locator("table.plan td.reason").all_text_contents()
    assert len(reasons) == 3 and all(reason.strip() for reason in reasons)
    page.get_by_label("Lot space").fill("1")
    page.get_by_role("button", name="Try it").click()
    result = page.locator("#what-if-result")
    result.get_by_text("With lot space 1").wait_for()
    assert "units" in result.inner_text()
    assert violations == []


def test_an_upload_shows_its_progress_until_done(page: Any, console: ConsoleServer, people: People) -> None:
    sign_in(page, console, people.admin)
    page.goto(f"{console.url}/knowledge")  # the first knowledge base, if other tests made one, or the empty page
    page.get_by_label("New knowledge base").fill("handbook")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(f"{console.url}/knowledge/handbook")
    page.get_by_label("Add documents").set_input_files(
        files=[{"name": "returns.md", "mimeType": "text/markdown", "buffer": b"# Returns\n\nWithin 30 days."}]
    )
    page.get_by_role("button", name="Upload").click()
    page.locator("progress").wait_for()
    page.get_by_text("Ingestion done").wait_for(timeout=90_000)
    assert page.locator("progress").get_attribute("value") == "100"
    page.get_by_role("link", name="Show the documents").click()
    page.get_by_role("rowheader", name="returns.md").wait_for()


def test_an_api_key_is_shown_once_works_and_stops_when_revoked(
    page: Any, console: ConsoleServer, people: People
) -> None:
    sign_in(page, console, people.admin, next_path="/admin/api-keys")
    page.get_by_label("Name").fill("reporting script")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("The new key").input_value()
    assert key.startswith("od")
    me = httpx.get(f"{console.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["role"] == "viewer"
    page.goto(f"{console.url}/admin/api-keys")
    assert page.get_by_label("The new key").count() == 0
    assert key not in page.content()
    page.get_by_role("button", name="Revoke reporting script").click()
    page.get_by_text(re.compile("revoked")).first.wait_for()
    refused = httpx.get(f"{console.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401


def test_a_viewer_sees_no_write_button_and_a_forged_post_is_refused(
    page: Any, console: ConsoleServer, people: People
) -> None:
    sign_in(page, console, people.viewer, next_path="/planner")
    assert page.get_by_role("button", name="Try it").count() == 0
    assert page.get_by_role("link", name="API keys").count() == 0
    page.goto(f"{console.url}/knowledge")
    assert page.get_by_role("button", name="Upload").count() == 0
    assert page.get_by_role("button", name="Create").count() == 0
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = page.request.post(
        f"{console.url}/knowledge", form={"name": "forged", "csrf_token": token}, headers={"Origin": console.url}
    )
    assert forged.status == 403 and "Request id" in forged.text()
    admin_page = page.goto(f"{console.url}/admin/api-keys")
    assert admin_page.status == 403
    assert page.locator(".request-id").inner_text().startswith("req_")


def test_a_cross_site_form_post_is_refused(page: Any, console: ConsoleServer, people: People) -> None:
    sign_in(page, console, people.admin)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    evil = (
        f'<form id="f" method="post" action="{console.url}/admin/api-keys">'
        f'<input name="name" value="planted"><input name="role" value="admin">'
        f'<input name="csrf_token" value="{token}"></form><script>document.getElementById("f").submit()</script>'
    )
    page.route("http://evil.test/", lambda route: route.fulfill(body=evil, content_type="text/html"))
    with page.expect_response(f"{console.url}/admin/api-keys") as answer:
        page.goto("http://evil.test/")
    assert answer.value.status == 403
    page.goto(f"{console.url}/admin/api-keys")
    assert page.get_by_role("rowheader", name="planted").count() == 0


async def _hostile_document(ctx: AppContext) -> None:
    from opsdesk.auth import service as auth

    async with ctx.db.session() as session:
        workspace = await auth.get_workspace(session, "acme")
        kb = await knowledge.create_kb(session, workspace.id, KnowledgeBaseIn(name="hostile"))
        text = f"# {EVIL_TITLE}\n\nHarmless body.".encode()
        source = SourceFile(EVIL, text, EVIL, "text/markdown", [], {}, None)
        await ingest.queue_files(session, kb, [source])


def test_hostile_names_render_as_text_and_nothing_executes(page: Any, console: ConsoleServer, people: People) -> None:
    console.call(_hostile_document)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    sign_in(page, console, people.admin, next_path="/knowledge/hostile")
    assert page.get_by_role("rowheader", name=EVIL).is_visible()
    assert page.locator('img[src="x"]').count() == 0
    page.reload()
    page.wait_for_timeout(300)  # give any injected handler its chance to run
    assert dialogs == []


_PAGES = {
    "signin": "/signin",
    "home": "/",
    "planner": "/planner",
    "knowledge": "/knowledge",
    "api-keys": "/admin/api-keys",
    "audit": "/admin/audit",
    "calls": "/calls",
    "crew": "/crew",
    "error": f"/knowledge/{uuid.uuid4()}",
}


def test_every_page_passes_axe_and_is_photographed(browser: Any, console: ConsoleServer, people: People) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    for width, height, label in ((1280, 860, "desktop"), (390, 844, "phone")):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        for name, path in _PAGES.items():
            if name == "signin":
                page.goto(f"{console.url}{path}")
            else:
                if name == "home":
                    sign_in(page, console, people.admin)
                page.goto(f"{console.url}{path}")
            if name == "planner":
                page.wait_for_selector("#forecast-chart[data-plotted=true] .main-svg")
            if label == "desktop":
                results = axe.run(page)
                serious = [
                    f"{v['id']}: {v['help']} ({len(v['nodes'])})"
                    for v in results.response["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
                if serious:
                    problems[name] = serious
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=label == "desktop")
        context.close()
    assert problems == {}
