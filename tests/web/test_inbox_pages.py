"""The operator inbox and conversations in a real browser: a complaint from the chat appears in the open inbox
without a reload, with its SLA timer; staff take it over, reply (the transcript shows it as staff) and resolve it;
a viewer sees no write button and a forged post is refused; axe and screenshots."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import ConsoleServer, People, sign_in
from tests.web.desk_support import BAO_BROS, MAKAN_CORNER, chat, desk_key, scan_and_photograph

pytestmark = pytest.mark.slow
COMPLAINT = "I want to file a complaint about your driver, he was rude"


def _complain(console: ConsoleServer, people: People, outlet: tuple[str, str]) -> dict[str, Any]:
    reply = chat(console, desk_key(console, people), outlet[0], COMPLAINT)
    assert reply["escalation_id"], reply
    return reply


def test_an_escalation_appears_live_is_taken_over_answered_and_resolved(
    page: Any, console: ConsoleServer, people: People
) -> None:
    desk_key(console, people)
    sign_in(page, console, people.admin, next_path="/inbox")
    page.get_by_role("heading", name="Operator inbox").wait_for()
    reply = _complain(console, people, BAO_BROS)  # while the page is open

    case = page.locator(f'li[data-case="{reply["escalation_id"]}"]')
    case.wait_for(timeout=15_000)  # the list polls; no reload
    assert page.url == f"{console.url}/inbox"
    assert case.get_by_text("complaint", exact=True).is_visible()
    assert re.search(r"\d+[hm] \d+[ms] left", case.locator(".sla").inner_text())

    case.get_by_role("link").click()
    page.wait_for_url(f"{console.url}/conversations/{reply['session_id']}")
    assert page.locator("ol.transcript").get_by_text(COMPLAINT).is_visible()
    assert page.get_by_label("Reply as staff").count() == 0  # not yours yet
    page.get_by_role("button", name="Take over").click()
    page.get_by_text("Assigned to you").wait_for()
    page.get_by_label("Reply as staff").fill("Sorry about that — we have spoken to the driver.")
    page.get_by_role("button", name="Send reply").click()
    staff = page.locator("li.msg.staff")
    staff.wait_for()
    assert "we have spoken to the driver" in staff.inner_text() and "Staff" in staff.inner_text()
    page.get_by_label("Resolution note").fill("Apologised; driver briefed.")
    page.get_by_role("button", name="Resolve").click()
    page.get_by_text("Apologised; driver briefed.").wait_for()
    assert page.get_by_role("button", name="Resolve").count() == 0

    page.goto(f"{console.url}/inbox")
    assert page.locator(f'li[data-case="{reply["escalation_id"]}"]').count() == 0
    page.goto(f"{console.url}/inbox?status=resolved")
    assert page.locator(f'li[data-case="{reply["escalation_id"]}"]').is_visible()


def test_conversations_are_listed_per_channel(page: Any, console: ConsoleServer, people: People) -> None:
    _complain(console, people, MAKAN_CORNER)
    sign_in(page, console, people.admin, next_path="/conversations")
    page.get_by_label("Channel").select_option("chat")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/conversations?channel=chat*", wait_until="load")
    page.get_by_role("link", name=MAKAN_CORNER[0]).wait_for()  # the filtered page may still be loading
    page.get_by_label("Channel").select_option("whatsapp")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/conversations?channel=whatsapp*", wait_until="load")
    assert page.get_by_role("link", name=MAKAN_CORNER[0]).count() == 0


def test_a_viewer_cannot_take_over_reply_or_resolve(page: Any, console: ConsoleServer, people: People) -> None:
    reply = _complain(console, people, MAKAN_CORNER)
    sign_in(page, console, people.viewer, next_path=f"/conversations/{reply['session_id']}")
    for button in ("Take over", "Resolve", "Send reply"):
        assert page.get_by_role("button", name=button).count() == 0
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    for path in (f"/inbox/{reply['escalation_id']}/take-over", f"/inbox/{reply['escalation_id']}/resolve"):
        forged = page.request.post(f"{console.url}{path}", form={"csrf_token": token}, headers={"Origin": console.url})
        assert forged.status == 403 and "Request id" in forged.text()
    page.reload()
    assert "open" in page.locator("aside").inner_text()


def test_the_inbox_pages_pass_axe_and_are_photographed(browser: Any, console: ConsoleServer, people: People) -> None:
    reply = _complain(console, people, BAO_BROS)
    pages = {
        "inbox": "/inbox",
        "conversations": "/conversations",
        "transcript": f"/conversations/{reply['session_id']}",
    }
    assert scan_and_photograph(browser, console, people, pages) == {}
