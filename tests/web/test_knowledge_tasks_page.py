"""A knowledge base's tasks in a real browser: add one after another, see it wait on its dependency, move both along,
delete one; a viewer sees the board without any button and a forged post is refused."""

from __future__ import annotations

from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.knowledge import service as knowledge
from opsdesk.knowledge.schemas import KnowledgeBaseIn
from tests.web.conftest import ConsoleServer, People, photograph, sign_in


async def _base(ctx: AppContext) -> None:
    async with ctx.db.session() as session:
        workspace = await auth.get_workspace(session, "acme")
        await knowledge.create_kb(session, workspace.id, KnowledgeBaseIn(name="launch"))


def _column(page: Any, status: str) -> Any:
    return page.get_by_role("region", name=status.replace("_", " "))


def test_tasks_are_added_wait_on_their_dependencies_move_and_are_deleted(
    page: Any, console: ConsoleServer, people: People
) -> None:
    console.call(_base)
    sign_in(page, console, people.admin, next_path="/knowledge/launch")
    page.get_by_role("link", name="Tasks of launch").click()
    page.get_by_text("None.").first.wait_for()

    page.get_by_label("Title").fill("Write the returns policy")
    page.get_by_label("Priority").select_option("high")
    page.get_by_role("button", name="Add task").click()
    page.get_by_role("status").get_by_text("Task added.").wait_for()
    page.get_by_label("Title").fill("Publish the FAQ")
    page.get_by_label("After (optional)").select_option(label="Write the returns policy")
    page.get_by_role("button", name="Add task").click()
    page.get_by_role("status").get_by_text("Task added.").wait_for()

    todo = _column(page, "todo")
    assert todo.get_by_text("Waits on: Write the returns policy").is_visible()
    from axe_playwright_python.sync_playwright import Axe

    serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    photograph(page, "knowledge-tasks")
    page.get_by_label("New status of Write the returns policy").select_option("done")
    page.get_by_role("button", name="Move Write the returns policy").click()
    page.get_by_role("status").get_by_text("Task updated.").wait_for()
    assert _column(page, "done").get_by_text("Write the returns policy", exact=True).is_visible()
    assert page.get_by_text("After: Write the returns policy").is_visible()  # no longer waiting

    page.get_by_role("button", name="Delete Publish the FAQ").click()
    page.get_by_role("status").get_by_text("Task deleted.").wait_for()
    assert page.get_by_text("Publish the FAQ", exact=True).count() == 0


def test_a_viewer_sees_the_board_without_buttons(page: Any, console: ConsoleServer, people: People) -> None:
    async def base(ctx: AppContext) -> None:
        async with ctx.db.session() as session:
            workspace = await auth.get_workspace(session, "acme")
            await knowledge.create_kb(session, workspace.id, KnowledgeBaseIn(name="read-only"))

    console.call(base)
    sign_in(page, console, people.viewer, next_path="/knowledge/read-only/tasks")
    assert page.get_by_role("button", name="Add task").count() == 0
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = page.request.post(
        f"{console.url}/knowledge/read-only/tasks",
        form={"title": "planted", "csrf_token": token},
        headers={"Origin": console.url},
    )
    assert forged.status == 403
