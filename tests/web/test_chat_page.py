"""The chat playground in a real browser: a model's reply arrives token by token, a knowledge base answers with a
citation that opens the cited passage, an outlet places an order through the order desk, a viewer can chat but not
talk to a solution; the pages pass axe and are photographed at desktop and phone width."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.auth.roles import Role
from opsdesk.core.settings import ProviderSettings
from opsdesk.knowledge import service as knowledge
from opsdesk.knowledge.ingest import service as ingest
from opsdesk.knowledge.ingest.staging import SourceFile
from opsdesk.knowledge.models import Document
from opsdesk.knowledge.schemas import KnowledgeBaseIn
from opsdesk.orders.demo import seed_catalog
from opsdesk.orders.models import Order
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE
from tests.support.database import TestDatabases, each_database
from tests.web.conftest import PASSWORD, SCREENSHOTS, ConsoleServer, People, sign_in

pytestmark = pytest.mark.slow
REPLY = "Unopened items can be returned within thirty days of delivery; opened ones cannot, sorry."
HANDBOOK = (
    b"# Returns\n\nUnopened items may be returned within 30 days of delivery for a full refund. "
    b"Opened items cannot be returned.\n\n# Delivery\n\nOrders placed before noon are delivered the next working day."
)


async def _paced(chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for chunk in chunks:
        await asyncio.sleep(0.08)
        yield chunk


class PacedOpenAI(FakeOpenAI):
    """The fake OpenAI API with its streamed pieces spaced out, as a slow model's tokens are."""

    async def _chat(self, request: Request) -> Response:
        response = await super()._chat(request)
        if isinstance(response, StreamingResponse):
            response.body_iterator = _paced(response.body_iterator)
        return response


async def _seed(ctx: AppContext, people: People) -> None:
    async with ctx.db.session() as session:
        workspace = await auth.create_workspace(session, people.workspace, "Acme Supplies")
        for email, role in ((people.admin, Role.admin), (people.viewer, Role.viewer)):
            user = await auth.create_user(session, email, PASSWORD)
            await auth.add_member(session, user, workspace, role)
        await seed_catalog(session, workspace.id)
        kb = await knowledge.create_kb(session, workspace.id, KnowledgeBaseIn(name="handbook"))
        source = SourceFile("policies.md", HANDBOOK, "policies.md", "text/markdown", [], {}, None)
        await ingest.queue_files(session, kb, [source])


async def _documents_ready(ctx: AppContext) -> bool:
    async with ctx.db.session() as session:
        statuses = list(await session.scalars(select(Document.status)))
    return bool(statuses) and all(status == "ready" for status in statuses)


@pytest.fixture(scope="module")
def fake_model() -> Iterator[PacedOpenAI]:
    with PacedOpenAI(reply=REPLY) as fake:
        yield fake


@pytest.fixture(scope="module")
def chat_console(
    databases: TestDatabases, tmp_path_factory: pytest.TempPathFactory, fake_model: PacedOpenAI
) -> Iterator[ConsoleServer]:
    """A console whose one chat provider is the paced fake; order intents and answers need no model."""
    fake = ProviderSettings(
        kind="openai", model="fake-model", base_url=fake_model.url, api_key=SecretStr("sk-test"), max_retries=0
    )
    for url in each_database(databases):
        settings = make_settings(
            url,
            tmp_path_factory.mktemp("chat-console"),
            log_level="WARNING",
            llm_providers={"fake": fake},
            intent_llm_enabled="off",
            answer_generation="never",
        )
        server = ConsoleServer(settings).start()
        try:
            server.call(lambda ctx: _seed(ctx, People()))
            deadline = time.monotonic() + 120
            while not server.call(_documents_ready):
                assert time.monotonic() < deadline, "the handbook was not ingested"
                time.sleep(0.2)
            yield server
        finally:
            server.stop()


def _record_reply_growth(page: Any) -> None:
    """Keeps, in the page, every text the newest reply has had (set up before sending)."""
    page.evaluate(
        """() => {
          window.seenReplies = [];
          const log = document.getElementById("chat-log");
          new MutationObserver(() => {
            const replies = log.querySelectorAll(".msg.assistant .msg-text");
            if (replies.length) { window.seenReplies.push(replies[replies.length - 1].textContent); }
          }).observe(log, {subtree: true, childList: true, characterData: true});
        }"""
    )


def _send(page: Any, text: str) -> Any:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()
    page.locator("#chat-log[data-state=done], #chat-log[data-state=error]").wait_for(timeout=60_000)
    return page.locator("#chat-log .msg.assistant").last


def test_a_model_reply_streams_in_token_by_token(
    page: Any, chat_console: ConsoleServer, fake_model: PacedOpenAI
) -> None:
    sign_in(page, chat_console, People().admin, next_path="/chat")
    models = page.get_by_label("Model", exact=True).locator("option").all_inner_texts()
    assert "opsdesk (the fallback chain)" in models and "fake/fake-model" in models
    page.get_by_label("Model", exact=True).select_option("fake/fake-model")
    page.get_by_label("System prompt").fill("You answer in one sentence.")
    _record_reply_growth(page)
    reply = _send(page, "Can I return a parcel?")
    assert reply.locator(".msg-text").inner_text() == REPLY
    seen = [text for text in page.evaluate("window.seenReplies") if text]
    partial = [text for text in dict.fromkeys(seen) if text != REPLY]
    assert len(partial) >= 3, seen  # the reply grew in steps before it was whole
    assert all(REPLY.startswith(text) for text in partial)
    assert "tokens in" in reply.inner_text()  # the usage the gateway reports at the end
    sent = fake_model.last().body
    assert sent["stream"] is True and sent["max_tokens"] == 256
    assert sent["messages"][0] == {"role": "system", "content": "You answer in one sentence."}
    assert sent["messages"][-1] == {"role": "user", "content": "Can I return a parcel?"}

    _send(page, "And after that?")  # the conversation so far goes along
    follow_up = fake_model.last().body["messages"]
    assert [m["role"] for m in follow_up] == ["system", "user", "assistant", "user"]
    assert follow_up[2]["content"] == REPLY


def test_a_grounded_answer_cites_a_passage_that_opens(page: Any, chat_console: ConsoleServer) -> None:
    sign_in(page, chat_console, People().admin, next_path="/chat")
    page.get_by_label("A knowledge base (cited)").check()
    page.get_by_label("Knowledge base", exact=True).select_option("handbook")
    reply = _send(page, "How many days do I have to return an unopened item?")
    assert "30 days" in reply.locator(".msg-text").inner_text()
    citation = reply.get_by_role("list", name="Citations").get_by_role("link").first
    assert citation.inner_text().startswith("[1] ")
    citation.click()
    page.wait_for_url("**/chat/passages/**")
    cited = page.locator(".passage.cited")
    assert cited.count() == 1 and "within 30 days" in cited.inner_text()
    assert page.url.endswith("#chunk-" + (cited.get_attribute("id") or "").removeprefix("chunk-"))


def test_a_knowledge_base_is_asked_with_citations_from_its_own_page(page: Any, chat_console: ConsoleServer) -> None:
    sign_in(page, chat_console, People().viewer, next_path="/knowledge/handbook")  # reading is enough to ask
    page.get_by_role("link", name="Ask handbook, with citations").click()
    page.wait_for_url("**/chat?kb=handbook")
    assert page.get_by_label("A knowledge base (cited)").is_checked()
    assert page.get_by_label("Knowledge base", exact=True).input_value() == "handbook"
    assert page.get_by_label("Model", exact=True).is_hidden()  # the page opened on the ask mode's fields
    reply = _send(page, "How many days do I have to return an unopened item?")
    assert "30 days" in reply.locator(".msg-text").inner_text()
    citation = reply.get_by_role("list", name="Citations").get_by_role("link").first
    assert citation.inner_text().startswith("[1] ")


async def _orders(ctx: AppContext) -> list[tuple[str, str]]:
    async with ctx.db.session() as session:
        return [(o.number, o.status) for o in await session.scalars(select(Order).order_by(Order.created_at))]


def test_an_outlet_places_an_order_through_the_chat_page(page: Any, chat_console: ConsoleServer) -> None:
    before = chat_console.call(_orders)
    sign_in(page, chat_console, People().admin, next_path="/chat")
    page.get_by_label("A solution, as a customer").check()
    page.get_by_label("Solution", exact=True).select_option("orders")
    page.get_by_label("Customer phone or id").fill(TAMPINES_PHONE)
    summary = _send(page, FORM_ORDER)
    assert "349.38" in summary.inner_text(), summary.inner_text()
    confirmed = _send(page, "yes")
    orders = chat_console.call(_orders)
    assert len(orders) == len(before) + 1
    number, status = orders[-1]
    assert status == "confirmed"
    assert number in confirmed.inner_text()


def test_the_planner_answers_from_the_chat_page(page: Any, chat_console: ConsoleServer) -> None:
    sign_in(page, chat_console, People().admin, next_path="/chat")
    page.get_by_label("A solution, as a customer").check()
    page.get_by_label("Solution", exact=True).select_option("planner")
    reply = _send(page, "What should I order this week?")
    assert page.locator("#chat-log").get_attribute("data-state") == "done"
    assert reply.locator(".msg-text").inner_text().strip()
    assert "intent " in reply.locator(".msg-note").inner_text()


def test_a_viewer_chats_but_cannot_talk_to_a_solution_or_reach_admin(page: Any, chat_console: ConsoleServer) -> None:
    sign_in(page, chat_console, People().viewer, next_path="/chat")
    assert page.get_by_label("A solution, as a customer").count() == 0
    assert page.get_by_role("link", name="Admin").count() == 0
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = page.request.post(
        f"{chat_console.url}/chat/solution",
        data={"solution": "orders", "text": FORM_ORDER, "sender": TAMPINES_PHONE},
        headers={"X-CSRF-Token": token, "Origin": chat_console.url},
    )
    assert forged.status == 403
    reply = _send(page, "Hello?")  # invoking a model is a viewer's right, as on /v1/chat/completions
    assert reply.locator(".msg-text").inner_text() == REPLY
    assert page.goto(f"{chat_console.url}/admin").status == 403


def test_a_message_with_a_script_stays_text(page: Any, chat_console: ConsoleServer) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, chat_console, People().admin, next_path="/chat")
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    _send(page, hostile)
    assert page.locator("#chat-log .msg.user .msg-text").last.inner_text() == hostile
    assert page.locator("#chat-log script, #chat-log img").count() == 0
    assert dialogs == []


def test_a_solution_message_with_a_nul_is_refused_with_the_request_id(page: Any, chat_console: ConsoleServer) -> None:
    sign_in(page, chat_console, People().admin, next_path="/chat")
    page.get_by_label("A solution, as a customer").check()
    page.get_by_label("Customer phone or id").fill("bad\x00sender")
    reply = _send(page, "hello")
    assert reply.get_attribute("role") is None  # the bubble's text carries the alert
    error = reply.locator(".msg-text")
    assert error.get_attribute("role") == "alert"
    assert "error 400" in error.inner_text() and "Request id: req_" in error.inner_text()


def test_without_the_csrf_header_the_stream_is_refused(page: Any, chat_console: ConsoleServer) -> None:
    sign_in(page, chat_console, People().admin, next_path="/chat")
    refused = page.request.post(
        f"{chat_console.url}/chat/stream",
        data={"model": "opsdesk", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Origin": chat_console.url},
    )
    assert refused.status == 403


def test_the_chat_pages_pass_axe_and_are_photographed(browser: Any, chat_console: ConsoleServer) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    for width, height, label in ((1280, 860, "desktop"), (390, 844, "phone")):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(20_000)
        sign_in(page, chat_console, People().admin, next_path="/chat")
        page.get_by_label("A knowledge base (cited)").check()
        reply = _send(page, "How fast is delivery?")
        shots = {"chat": None, "chat-passage": reply.get_by_role("link").first}
        for name, link in shots.items():
            if link is not None:
                link.click()
                page.wait_for_url("**/chat/passages/**")
            if label == "desktop":
                serious = [
                    f"{v['id']}: {v['help']} ({len(v['nodes'])})"
                    for v in axe.run(page).response["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
                if serious:
                    problems[name] = serious
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=label == "desktop")
        context.close()
    assert problems == {}
