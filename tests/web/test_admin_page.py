"""The admin page in a real browser: an admin changes a member's role (never leaving the workspace without an admin)
and invites someone, sees each chat provider's circuit breaker (one healthy, one failing and open) and the usage
chart drawn from the stored call records; a viewer is refused and sees no admin link; axe and screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.auth import invitations, members
from opsdesk.auth import service as auth
from opsdesk.auth.models import Invitation
from opsdesk.auth.roles import Role
from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.llm.base import ChatMessage, ChatRequest, UpstreamError
from opsdesk.providers.models import ProviderCall
from opsdesk.web.pages import admin as admin_page
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.support.database import TestDatabases, each_database
from tests.web.conftest import PASSWORD, SCREENSHOTS, ConsoleServer, People, sign_in

pytestmark = pytest.mark.slow
OPERATOR = "oscar@acme.example"


async def _seed(ctx: AppContext, people: People) -> None:
    async with ctx.db.session() as session:
        workspace = await auth.create_workspace(session, people.workspace, "Acme Supplies")
        for email, role in ((people.admin, Role.admin), (people.viewer, Role.viewer), (OPERATOR, Role.operator)):
            user = await auth.create_user(session, email, PASSWORD, email.split("@")[0].title())
            await auth.add_member(session, user, workspace, role)
        # An earlier day's call, as the recorder stores them.
        three_days_ago = datetime.now(UTC) - timedelta(days=3)
        session.add(
            ProviderCall(workspace_id=workspace.id, provider="healthy", model="fake-model", operation="chat",
                         tokens_in=1200, tokens_out=300, cost_usd=0.0021, outcome="ok", created_at=three_days_ago)
        )  # fmt: skip
        workspace_id = workspace.id
    request = ChatRequest(messages=[ChatMessage(role="user", content="Hello")], workspace_id=workspace_id)
    await ctx.providers.chat("healthy").complete(request)
    with pytest.raises(UpstreamError):
        await ctx.providers.chat("failing").complete(request)  # one failure opens its breaker (fail_max 1)
    assert ctx.providers.recorder is not None
    await ctx.providers.recorder.flush()


@pytest.fixture(scope="module")
def admin_console(databases: TestDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """Two chat providers: one answers, one always fails; a breaker opens at the first failure and stays open."""
    with FakeOpenAI(reply="Hi there, how can I help?") as healthy, FakeOpenAI() as failing:
        failing.script(["500"] * 20)
        providers = {
            name: ProviderSettings(kind="openai", model="fake-model", base_url=server.url, api_key=SecretStr("sk"),
                                   max_retries=0, input_cost_per_mtok=150.0, output_cost_per_mtok=600.0)
            for name, server in (("healthy", healthy), ("failing", failing))
        }  # fmt: skip
        for url in each_database(databases):
            settings = make_settings(
                url,
                tmp_path_factory.mktemp("admin-console"),
                log_level="WARNING",
                llm_providers=providers,
                llm_fallback=["healthy", "failing"],
                breaker_fail_max=1,
                breaker_reset_s=3600.0,
            )
            server = ConsoleServer(settings).start()
            try:
                server.call(lambda ctx: _seed(ctx, People()))
                yield server
            finally:
                server.stop()


async def _role_of(ctx: AppContext, email: str) -> str:
    async with ctx.db.session() as session:
        user = await auth.get_user_by_email(session, email)
        assert user is not None
        return {ws.slug: role.value for ws, role in await auth.workspaces_of(session, user.id)}["acme"]


def test_an_admin_changes_a_members_role(page: Any, admin_console: ConsoleServer) -> None:
    sign_in(page, admin_console, People().admin, next_path="/admin")
    row = page.get_by_role("row", name=re.compile(OPERATOR))
    assert row.locator(".member-role").inner_text() == "operator"
    row.get_by_label(f"New role for {OPERATOR}").select_option("viewer")
    row.get_by_role("button", name=f"Change role of {OPERATOR}").click()
    page.wait_for_url(f"{admin_console.url}/admin")
    assert page.get_by_role("row", name=re.compile(OPERATOR)).locator(".member-role").inner_text() == "viewer"
    assert admin_console.call(lambda ctx: _role_of(ctx, OPERATOR)) == "viewer"


def test_the_last_admin_cannot_demote_themselves(page: Any, admin_console: ConsoleServer) -> None:
    admin = People().admin
    sign_in(page, admin_console, admin, next_path="/admin")
    row = page.get_by_role("row", name=re.compile(admin))
    row.get_by_label(f"New role for {admin}").select_option("operator")
    with page.expect_response(re.compile(r"/admin/members/.+/role")) as answer:
        row.get_by_role("button", name=f"Change role of {admin}").click()
    assert answer.value.status == 400
    page.get_by_text("at least one admin").wait_for()  # swapped in once htmx has the answer
    assert admin_console.call(lambda ctx: _role_of(ctx, admin)) == "admin"


async def _invitations(ctx: AppContext) -> list[tuple[str, str]]:
    async with ctx.db.session() as session:
        return [(i.email, i.role) for i in await session.scalars(select(Invitation))]


def test_an_admin_invites_someone(page: Any, admin_console: ConsoleServer) -> None:
    sign_in(page, admin_console, People().admin, next_path="/admin")
    page.get_by_label("Email", exact=True).fill("New.Hire@Acme.Example")
    page.get_by_label("Role", exact=True).select_option("operator")
    page.get_by_role("button", name="Invite").click()
    page.get_by_role("status").get_by_text("Invited new.hire@acme.example as operator").wait_for()
    assert ("new.hire@acme.example", "operator") in admin_console.call(_invitations)


def test_providers_health_and_the_usage_chart(page: Any, admin_console: ConsoleServer) -> None:
    sign_in(page, admin_console, People().admin, next_path="/admin")
    providers = page.locator("table.providers")
    assert providers.get_by_role("row", name=re.compile("^healthy")).locator(".badge").inner_text() == "closed"
    failing = providers.get_by_role("row", name=re.compile("^failing"))
    assert failing.locator(".badge").inner_text() == "open"
    assert "#2" in failing.inner_text()  # second in the opsdesk chain
    assert page.get_by_role("link", name="create and revoke API keys").get_attribute("href") == "/admin/api-keys"

    page.wait_for_selector("#usage-chart[data-plotted=true] .main-svg")
    legend = set(page.locator("#usage-chart .legendtext").all_text_contents())
    assert legend == {"healthy/fake-model", "failing/fake-model"}
    assert "Cost per day" in (page.locator("#usage-chart .gtitle").text_content() or "")
    page.get_by_text("The numbers", exact=True).click()
    days = {row.split("\t")[0] for row in page.locator("table.usage tbody tr").all_inner_texts()}
    assert len(days) == 2  # today's calls and the one three days ago
    failed = page.locator("table.usage tbody tr", has_text="failing").first.locator("td").nth(4)
    assert failed.inner_text() == "1"


def test_a_viewer_cannot_reach_admin(page: Any, admin_console: ConsoleServer) -> None:
    sign_in(page, admin_console, People().viewer)
    assert page.get_by_role("link", name="Admin").count() == 0
    assert page.goto(f"{admin_console.url}/admin").status == 403
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = page.request.post(
        f"{admin_console.url}/admin/invitations",
        form={"email": "planted@evil.example", "role": "admin", "csrf_token": token},
        headers={"Origin": admin_console.url},
    )
    assert forged.status == 403
    assert all(email != "planted@evil.example" for email, _ in admin_console.call(_invitations))


def test_the_admin_page_passes_axe_and_is_photographed(browser: Any, admin_console: ConsoleServer) -> None:
    from axe_playwright_python.sync_playwright import Axe

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height, label in ((1280, 860, "desktop"), (390, 844, "phone")):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(20_000)
        sign_in(page, admin_console, People().admin, next_path="/admin")
        page.wait_for_selector("#usage-chart[data-plotted=true] .main-svg")
        if label == "desktop":
            serious = [
                f"{v['id']}: {v['help']} ({len(v['nodes'])})"
                for v in Axe().run(page).response["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            assert serious == []
        page.screenshot(path=str(SCREENSHOTS / f"admin-{label}.png"), full_page=label == "desktop")
        context.close()


def test_the_audit_log_shows_who_changed_a_role_and_passes_axe(page: Any, admin_console: ConsoleServer) -> None:
    from axe_playwright_python.sync_playwright import Axe

    admin = People().admin
    sign_in(page, admin_console, admin, next_path="/admin")
    row = page.get_by_role("row", name=re.compile(OPERATOR))
    current = row.locator(".member-role").inner_text()
    new = "viewer" if current != "viewer" else "operator"
    row.get_by_label(f"New role for {OPERATOR}").select_option(new)
    row.get_by_role("button", name=f"Change role of {OPERATOR}").click()
    page.wait_for_url(f"{admin_console.url}/admin")

    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(f"{admin_console.url}/admin/audit")
    newest = page.locator("table.audit tbody tr").first
    text = newest.inner_text()
    assert "change role" in text and admin in text and OPERATOR in text and f"role {new}" in text
    assert newest.locator("code").last.inner_text().startswith("req_")
    serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []

    page.get_by_label("Who").fill("nobody-like-this")
    page.get_by_role("button", name="Filter").click()
    page.get_by_text("No changes match these filters.").wait_for()


def test_a_viewer_cannot_read_the_audit_log(page: Any, admin_console: ConsoleServer) -> None:
    sign_in(page, admin_console, People().viewer)
    assert page.get_by_role("link", name="Audit log").count() == 0
    assert page.goto(f"{admin_console.url}/admin/audit").status == 403


async def _add_member(ctx: AppContext, email: str) -> None:
    async with ctx.db.session() as session:
        user = await auth.create_user(session, email, PASSWORD, "Leaving Soon")
        await auth.add_member(session, user, await auth.get_workspace(session, "acme"), Role.viewer)


def test_an_admin_removes_a_member_and_cancels_an_invitation(page: Any, admin_console: ConsoleServer) -> None:
    leaver = "leaver@acme.example"
    admin_console.call(lambda ctx: _add_member(ctx, leaver))
    sign_in(page, admin_console, People().admin, next_path="/admin")
    page.get_by_role("button", name=f"Remove {leaver} from this workspace").click()
    page.get_by_role("status").get_by_text(f"Removed {leaver} from this workspace.").wait_for()
    assert page.get_by_role("row", name=re.compile(leaver)).count() == 0

    page.get_by_label("Email", exact=True).fill("maybe@acme.example")
    page.get_by_role("button", name="Invite").click()
    page.get_by_role("button", name="Cancel the invitation of maybe@acme.example").click()
    page.get_by_role("status").get_by_text("The invitation of maybe@acme.example is cancelled.").wait_for()
    assert page.get_by_role("button", name="Cancel the invitation of maybe@acme.example").count() == 0
    assert all(email != "maybe@acme.example" for email, _ in admin_console.call(_invitations))


async def _invite_two(ctx: AppContext) -> int:
    """Two more open invitations; returns how many are open now."""
    async with ctx.db.session() as session:
        workspace = await auth.get_workspace(session, "acme")
        for email in ("first.of.two@acme.example", "second.of.two@acme.example"):
            await invitations.invite(session, workspace, email, Role.viewer, None)
        _, total = await members.open_invitations(session, workspace.id, limit=1, offset=0)
    return total


def test_the_admin_page_shows_the_oldest_open_invitations_and_says_how_many_there_are(
    page: Any, admin_console: ConsoleServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = admin_console.call(_invite_two)
    monkeypatch.setattr(admin_page, "_INVITATIONS", 1)  # the page's cap, as if there were more than it shows

    sign_in(page, admin_console, People().admin, next_path="/admin")

    assert page.get_by_role("button", name=re.compile("^Cancel the invitation of ")).count() == 1
    page.get_by_text(f"The oldest 1 of {total} open invitations").wait_for()
