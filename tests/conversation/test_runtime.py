"""The turn pipeline: dedupe, cache tiers, handlers and their context, failures, streaming."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.conversation import Reply, SolutionConfig, Turn, register_handler, register_solution
from opsdesk.conversation.models import ConversationMessage, SemanticCacheEntry
from opsdesk.conversation.semantic import SubjectTerms
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from tests.conftest import Tenant, make_settings, make_tenant
from tests.conversation.conftest import POLICIES, SOLUTION, ChatApi, ingest, whatsapp_payload

ORDER_TEXT = "I want to order 5 bundles of 12 inch pizza boxes"
PRODUCTS = (
    "Our round containers are microwave safe for up to two minutes. Our meal trays are not microwave safe: take the "
    "food out of the tray before heating it."
)


async def _count(ctx: AppContext, model: type, **where: object) -> int:
    async with ctx.db.session() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(await session.scalar(query) or 0)


def _order_handler(calls: list[Turn], expects: str | None = None) -> None:
    async def handler(turn: Turn) -> Reply:
        calls.append(turn)
        return Reply(f"Order noted ({len(calls)}). Confirm with YES.", expects=expects, state={"draft": len(calls)})

    register_handler(SOLUTION, "order_placement", handler)


async def test_same_whatsapp_message_twice_is_stored_and_answered_once(
    ctx: AppContext, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    calls: list[Turn] = []
    _order_handler(calls)
    url = f"/api/v1/workspaces/{tenant.slug}/channels/whatsapp/webhook"
    headers = tenant.headers(Role.service)
    first = await client.post(url, json=whatsapp_payload("wamid.A1", ORDER_TEXT), headers=headers)
    second = await client.post(url, json=whatsapp_payload("wamid.A1", ORDER_TEXT), headers=headers)
    assert first.status_code == second.status_code == 200, first.text
    (one,), (two,) = first.json()["replies"], second.json()["replies"]
    assert (one["duplicate"], two["duplicate"]) == (False, True)
    assert two["turn"]["reply"] == one["turn"]["reply"] and two["turn"]["reply_id"] == one["turn"]["reply_id"]
    assert one["send"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6591234567",
        "type": "text",
        "text": {"preview_url": False, "body": one["turn"]["reply"]},
    }
    assert len(calls) == 1
    assert await _count(ctx, ConversationMessage, direction="in") == 1
    assert await _count(ctx, ConversationMessage, direction="out") == 1


async def test_webhook_wants_an_api_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    url = f"/api/v1/workspaces/{tenant.slug}/channels/whatsapp/webhook"
    response = await client.post(url, json=whatsapp_payload("wamid.B1", "hi"), headers=tenant.headers())
    assert response.status_code == 403 and response.json()["error"]["code"] == "api_key_required"


async def test_repeated_policy_question_is_served_from_l1(chat: ChatApi, policies: None) -> None:
    first = await chat.said("What are your payment terms?")
    assert first["intent"] == "policy_question" and first["cached"] is None
    assert [c["source_key"] for c in first["citations"]] == ["payment.md"], first
    assert "[" not in first["reply"] and '"' not in first["reply"], "a customer reads prose, not citation marks"
    again = await chat.said("what are your   PAYMENT terms?", sender="+65 8000 0001")
    assert again["cached"] == "l1" and again["reply"] == first["reply"]


async def test_order_messages_are_never_served_from_cache(ctx: AppContext, chat: ChatApi, policies: None) -> None:
    calls: list[Turn] = []
    _order_handler(calls)
    for sender in ("+65 8000 0002", "+65 8000 0002", "+65 8000 0003"):
        reply = await chat.said(ORDER_TEXT, sender=sender)
        assert reply["intent"] == "order_placement" and reply["cached"] is None
    assert len(calls) == 3
    assert await _count(ctx, SemanticCacheEntry) == 0


async def test_paraphrased_policy_question_hits_l2_until_the_knowledge_base_changes(
    ctx: AppContext, chat: ChatApi, tenant: Tenant, policies: None
) -> None:
    first = await chat.said("What are your payment terms?")
    paraphrase = await chat.said("What payment terms do you offer?", sender="+65 8000 0004")
    assert paraphrase["cached"] == "l2" and paraphrase["reply"] == first["reply"]
    other_day = await chat.said("Do you deliver on Sundays?", sender="+65 8000 0005")
    assert other_day["cached"] is None

    await ingest(ctx, tenant, {"payment.md": ("Payment terms", POLICIES["payment.md"][1] + " Cash is not accepted.")})
    after = await chat.said("Which payment terms do you offer?", sender="+65 8000 0006")
    assert after["cached"] is None, "a new knowledge-base version must not be answered from the old cache"


async def test_l2_does_not_answer_a_question_about_another_product(
    ctx: AppContext, chat: ChatApi, tenant: Tenant, solution: SolutionConfig
) -> None:
    async def subjects(ctx: AppContext, workspace_id: uuid.UUID) -> SubjectTerms:
        return SubjectTerms(frozenset({"container", "tray"}), frozenset({"meal", "round"}))

    register_solution(replace(solution, subjects=subjects))
    await ingest(ctx, tenant, {"products.md": ("Products", PRODUCTS)})
    first = await chat.said("Are your containers microwave safe?")
    assert first["cached"] is None and first["intent"] in ("product_inquiry", "policy_question")
    paraphrase = await chat.said("are your containers safe for the microwave", sender="+65 8000 0011")
    assert paraphrase["cached"] == "l2"
    # MiniLM puts this 0.83 from the first question: without the subject check, L2 would serve the containers' answer.
    trays = await chat.said("Are your meal trays microwave safe?", sender="+65 8000 0012")
    assert trays["cached"] is None and trays["reply"] != first["reply"]


async def test_l1_lives_in_redis_when_configured(
    database_url: str, tmp_path: Path, redis_url: str, shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import SecretStr

    settings = make_settings(database_url, tmp_path, redis_url=SecretStr(redis_url))
    settings.conversation_default_solution = SOLUTION
    first_ctx = await AppContext.open(settings, migrate=False)
    second_ctx = await AppContext.open(settings, migrate=False)  # another API process, same Redis
    try:
        for context in (first_ctx, second_ctx):
            monkeypatch.setattr(context.providers, "embedder", lambda: shared_embedder)
        tenant = await make_tenant(first_ctx, "redisco")
        await ingest(first_ctx, tenant, POLICIES)
        apps = [create_app(settings, context=c) for c in (first_ctx, second_ctx)]
        replies = []
        for number, app in enumerate(apps):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
                replies.append(await ChatApi(http, tenant).said("Do you deliver on Sundays?", f"+65 8333 000{number}"))
        assert (replies[0]["cached"], replies[1]["cached"]) == (None, "l1")
    finally:
        for context in (first_ctx, second_ctx):
            await context.extras["cache"].aclose()
            await context.close()


async def test_a_pending_question_routes_the_answer_back_to_its_handler(chat: ChatApi) -> None:
    calls: list[Turn] = []
    _order_handler(calls, expects="order_placement")
    await chat.said(ORDER_TEXT)
    answer = await chat.said("hi")  # would be a greeting on its own
    assert (answer["intent"], answer["intent_source"]) == ("order_placement", "context")
    assert [turn.state for turn in calls] == [{}, {"draft": 1}]
    assert calls[1].history[-1].direction == "out" and calls[1].history[0].text == ORDER_TEXT


async def test_a_failing_handler_apologises_and_escalates(chat: ChatApi) -> None:
    async def broken(turn: Turn) -> Reply:
        raise RuntimeError("boom")

    register_handler(SOLUTION, "order_status", broken)
    reply = await chat.said("where is my order?")
    assert "went wrong" in reply["reply"] and reply["escalation_id"] and "boom" not in reply["reply"]


async def test_chat_reply_streams_as_server_sent_events(chat: ChatApi, policies: None) -> None:
    response = await chat.say("Do you deliver on public holidays?", stream=True)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [line.split(":", 1)[1].strip() for line in response.text.splitlines() if line.startswith("event:")]
    assert events[0] == "received" and "intent" in events and "delta" in events and events[-2:] == ["reply", "done"]
    data = [line.split(":", 1)[1] for line in response.text.splitlines() if line.startswith("data:")]
    reply = orjson.loads(data[events.index("reply")])
    assert reply["intent"] == "policy_question" and "public holidays" in reply["reply"].lower()


async def test_the_same_question_asked_at_once_is_answered_once(chat: ChatApi, policies: None) -> None:
    """Concurrent askers of a question already being answered wait for that answer instead of computing it again."""
    answered: list[str] = []

    async def slow_answer(turn: Turn) -> Reply:
        answered.append(turn.text)
        await asyncio.sleep(0.5)
        return Reply(f"Net 30 (answer {len(answered)}).", cacheable=True)

    register_handler(SOLUTION, "policy_question", slow_answer)
    questions = ["What are your payment terms?"] * 4 + ["What payment terms do you offer?"]
    replies = await asyncio.gather(
        *(chat.said(text, sender=f"+65 8100 00{number:02d}") for number, text in enumerate(questions))
    )
    assert len(answered) == 1, "whichever arrived first answered; the paraphrase and the repeats waited for it"
    assert answered[0] in questions
    assert {reply["reply"] for reply in replies} == {"Net 30 (answer 1)."}
    assert sorted(str(reply["cached"]) for reply in replies) == ["None", "l2", "l2", "l2", "l2"]

    other = await chat.said("Do you deliver on Sundays?", sender="+65 8100 0099")
    assert other["cached"] is None and answered[-1] == "Do you deliver on Sundays?"


async def test_followers_answer_for_themselves_when_the_leaders_reply_is_not_cacheable(
    chat: ChatApi, policies: None
) -> None:
    answered: list[str] = []

    async def personal_answer(turn: Turn) -> Reply:
        answered.append(turn.sender)
        await asyncio.sleep(0.3)
        return Reply(f"Your account terms, {turn.sender}.")  # not cacheable

    register_handler(SOLUTION, "policy_question", personal_answer)
    senders = [f"+65 8200 00{number:02d}" for number in range(3)]
    replies = await asyncio.gather(*(chat.said("What are your payment terms?", sender=sender) for sender in senders))
    assert sorted(answered) == sorted(senders)
    assert all(reply["cached"] is None for reply in replies)
