"""WhatsApp Cloud API end to end, as Meta calls opsdesk: the webhook's verification and signatures, an order from an
outlet's phone answered through a fake Graph API on a real port, redeliveries, status callbacks, retries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from opsdesk.auth.roles import Role
from opsdesk.conversation.channels import TextIssue
from opsdesk.conversation.defaults import TEXT_ISSUE_REPLIES
from opsdesk.conversation.whatsapp import queue, tasks
from opsdesk.conversation.whatsapp.client import MAX_TEXT, SendPolicy, split_text
from opsdesk.conversation.whatsapp.service import check_signature
from opsdesk.core.errors import NotAuthenticated, PermissionDenied
from opsdesk.db.base import utcnow
from opsdesk.orders.chat.solution import register_order_desk
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from opsdesk.providers.resilience import RetryTiming
from tests.fakes.whatsapp_graph_server import FakeGraph
from tests.orders.order_helpers import FORM_ORDER, Desk, counts, open_desk

APP_SECRET = "3f1e9c0d5b7a4e2f8c6d1a9b0e7f2c4d"
VERIFY_TOKEN = "tampines-verify-7Hq2"
OUTLET = "6591234502"  # Slice Republic Tampines, registered as "+65 9123 4502" in the demo catalog
FAST = SendPolicy(timeout_s=2.0, max_retries=2, timing=RetryTiming(base_wait_s=0.01, max_wait_s=0.05))


@pytest.fixture(scope="module")
def graph_server() -> Iterator[FakeGraph]:
    with FakeGraph() as server:
        yield server


@pytest.fixture
def graph(graph_server: FakeGraph) -> FakeGraph:
    graph_server.reset()
    return graph_server


@dataclass
class Meta:
    """Meta's side of the connection: it verifies the callback URL and posts signed deliveries."""

    desk: Desk
    http: httpx.AsyncClient
    graph: FakeGraph

    @property
    def webhook(self) -> str:
        return f"/api/v1/channels/whatsapp/{self.desk.tenant.slug}/webhook"

    async def deliver(self, payload: dict[str, Any], *, secret: str = APP_SECRET) -> httpx.Response:
        raw = json.dumps(payload, ensure_ascii=False).encode()
        signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        return await self.http.post(
            self.webhook, content=raw, headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        )

    async def delivered(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Delivers, checks the 200, and waits for the replies opsdesk started sending."""
        response = await self.deliver(payload)
        assert response.status_code == 200, response.text
        await tasks.worker(self.desk.ctx).idle()
        ack: dict[str, Any] = response.json()
        return ack

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self.desk.url(f"/channels/whatsapp{path}")
        return await self.http.request(method, url, headers=self.desk.tenant.headers(), **kwargs)


def text_message(message_id: str, body: str, sender: str = OUTLET) -> dict[str, Any]:
    return {"from": sender, "id": message_id, "timestamp": "1763880000", "type": "text", "text": {"body": body}}


def delivery(
    *messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None, number: str = ""
) -> dict[str, Any]:
    """A webhook call in the shape Meta sends (one entry, one change of the `messages` field)."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6560001234", "phone_number_id": number or FakeGraph().phone_number_id},
    }
    if messages:
        senders = {message["from"] for message in messages}
        value["contacts"] = [{"profile": {"name": "Tampines outlet"}, "wa_id": sender} for sender in senders]
        value["messages"] = list(messages)
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


@pytest.fixture
async def meta(
    database_url: str, tmp_path: Path, graph: FakeGraph, shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Meta]:
    """The demo order desk with a WhatsApp number connected to the fake Graph API."""
    register_order_desk()
    async with open_desk(database_url, tmp_path) as desk:
        monkeypatch.setattr(desk.ctx.providers, "embedder", lambda: shared_embedder)
        monkeypatch.setattr(desk.ctx.settings, "conversation_default_solution", "orders")
        await tasks.use_policy(desk.ctx, FAST)
        async with desk.client() as http:
            connection = Meta(desk, http, graph)
            response = await connection.admin(
                "PUT",
                "/config",
                json={
                    "phone_number_id": graph.phone_number_id,
                    "access_token": graph.access_token,
                    "app_secret": APP_SECRET,
                    "verify_token": VERIFY_TOKEN,
                    "graph_base_url": graph.base_url,
                },
            )
            assert response.status_code == 201, response.text
            yield connection


# ------------------------------------------------------------------------------------------- verification


async def test_meta_verifying_the_callback_url_gets_the_challenge_back(meta: Meta) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    by_slug = await meta.http.get(meta.webhook, params=query)
    by_id = await meta.http.get(f"/api/v1/channels/whatsapp/{meta.desk.workspace_id}/webhook", params=query)

    assert (by_slug.status_code, by_slug.text) == (200, "1158201444")
    assert by_slug.headers["content-type"].startswith("text/plain")
    assert (by_id.status_code, by_id.text) == (200, "1158201444")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "not-the-token", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
    ],
)
async def test_a_wrong_verification_is_forbidden(meta: Meta, query: dict[str, str]) -> None:
    response = await meta.http.get(meta.webhook, params=query)
    assert response.status_code == 403
    assert "1158201444" not in response.text


async def test_verifying_a_workspace_without_whatsapp_is_forbidden(meta: Meta) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    response = await meta.http.get("/api/v1/channels/whatsapp/no-such-workspace/webhook", params=query)
    assert response.status_code == 403


# ------------------------------------------------------------------------------------------- signatures


async def test_unsigned_and_wrongly_signed_deliveries_are_refused_and_nothing_is_sent(meta: Meta) -> None:
    payload = delivery(text_message("wamid.unsigned", FORM_ORDER))
    raw = json.dumps(payload).encode()
    good = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()

    unsigned = await meta.http.post(meta.webhook, content=raw, headers={"Content-Type": "application/json"})
    malformed = await meta.http.post(meta.webhook, content=raw, headers={"X-Hub-Signature-256": "md5=abc"})
    other_secret = await meta.deliver(payload, secret="not-the-app-secret")
    tampered = await meta.http.post(
        meta.webhook, content=raw.replace(b"wamid.unsigned", b"wamid.tampered"), headers={"X-Hub-Signature-256": good}
    )
    await tasks.worker(meta.desk.ctx).idle()

    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (401, "signature_missing")
    assert malformed.status_code == 401
    assert (other_secret.status_code, other_secret.json()["error"]["code"]) == (403, "signature_mismatch")
    assert tampered.status_code == 403
    assert (await meta.admin("GET", "/messages")).json()["total"] == 0
    assert meta.graph.count() == 0


# ------------------------------------------------------------------------------------------- orders


async def test_an_outlet_order_is_answered_through_the_graph_api_and_confirmed(
    meta: Meta, caplog: pytest.LogCaptureFixture
) -> None:
    ack = await meta.delivered(delivery(text_message("wamid.order-1", FORM_ORDER)))

    assert ack == {"queued": 1, "duplicates": 0, "ignored": 0}
    (draft,) = meta.graph.sent
    assert draft.to == OUTLET and "Reply YES" in draft.body
    assert (draft.version, draft.phone_number_id) == ("v21.0", meta.graph.phone_number_id)
    request = meta.graph.last()
    assert request.headers["authorization"] == f"Bearer {meta.graph.access_token}"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": OUTLET,
        "type": "text",
        "text": {"preview_url": False, "body": draft.body},
    }

    await meta.delivered(delivery(text_message("wamid.order-2", "YES")))

    confirmed = meta.graph.sent[-1]
    assert "DO-" in confirmed.body and "INV-" in confirmed.body
    assert await counts(meta.desk.ctx, meta.desk.workspace_id) == (1, 1, 1)
    listed = (await meta.admin("GET", "/messages", params={"status": "sent"})).json()
    assert listed["total"] == 2
    assert {item["reply_message_ids"][0] for item in listed["items"]} == {m.message_id for m in meta.graph.sent}
    second = (await meta.admin("GET", "/messages", params={"status": "sent", "limit": 1, "offset": 1})).json()
    assert second["items"] == listed["items"][1:] and (second["total"], second["limit"], second["offset"]) == (2, 1, 1)
    assert "whatsapp_reply_sent" in caplog.text
    assert meta.graph.access_token not in caplog.text and APP_SECRET not in caplog.text


async def test_a_redelivered_message_makes_one_order_and_one_reply(meta: Meta) -> None:
    order = delivery(text_message("wamid.retry-1", FORM_ORDER))
    first = await meta.deliver(order)
    again = await meta.deliver(order)  # Meta retries before the first reply is even sent
    await tasks.worker(meta.desk.ctx).idle()
    confirm = delivery(text_message("wamid.retry-2", "YES"))
    await meta.delivered(confirm)
    later = await meta.delivered(order)  # and again after everything is done
    await meta.delivered(confirm)

    assert first.json()["queued"] == 1
    assert again.json() == {"queued": 0, "duplicates": 1, "ignored": 0}
    assert later == {"queued": 0, "duplicates": 1, "ignored": 0}
    assert len(meta.graph.sent) == 2  # the draft and the confirmation, once each
    assert await counts(meta.desk.ctx, meta.desk.workspace_id) == (1, 1, 1)


async def test_a_message_with_nul_characters_is_kept_and_answered(meta: Meta) -> None:
    ack = await meta.delivered(delivery(text_message("wamid.nul-1", FORM_ORDER.replace("Outlet", "Out\x00let"))))
    await tasks.worker(meta.desk.ctx).idle()

    assert ack["queued"] == 1
    assert len(meta.graph.sent) == 1  # the draft, not an error


async def test_status_callbacks_are_acknowledged_and_ignored(meta: Meta) -> None:
    statuses = [
        {"id": "wamid.HBgLsent", "status": "delivered", "timestamp": "1763880100", "recipient_id": OUTLET},
        {"id": "wamid.HBgLsent", "status": "read", "timestamp": "1763880200", "recipient_id": OUTLET},
    ]
    ack = await meta.delivered(delivery(statuses=statuses))

    assert ack == {"queued": 0, "duplicates": 0, "ignored": 1}
    assert meta.graph.count() == 0
    assert (await meta.admin("GET", "/messages")).json()["total"] == 0


async def test_an_image_gets_the_text_only_answer(meta: Meta) -> None:
    image = {
        "from": OUTLET,
        "id": "wamid.image-1",
        "timestamp": "1763880000",
        "type": "image",
        "image": {"caption": "our order", "mime_type": "image/jpeg", "sha256": "abc", "id": "1234567890"},
    }
    await meta.delivered(delivery(image))

    (reply,) = meta.graph.sent
    assert reply.body == TEXT_ISSUE_REPLIES[TextIssue.unsupported]
    assert await counts(meta.desk.ctx, meta.desk.workspace_id) == (0, 0, 0)


async def test_messages_for_another_number_and_reactions_are_ignored(meta: Meta) -> None:
    reaction = {"from": OUTLET, "id": "wamid.r", "type": "reaction", "reaction": {"message_id": "x", "emoji": "👍"}}
    ack_other = await meta.delivered(delivery(text_message("wamid.o", "hello"), number="999999999"))
    ack_reaction = await meta.delivered(delivery(reaction))

    assert ack_other["ignored"] == 1 and ack_reaction["ignored"] == 1
    assert meta.graph.count() == 0


# ------------------------------------------------------------------------------------------- failures


def _replies(outcome: str) -> float:
    return REGISTRY.get_sample_value("opsdesk_whatsapp_replies_total", {"outcome": outcome}) or 0.0


async def test_the_graph_api_failing_twice_still_delivers_the_reply_once(meta: Meta) -> None:
    meta.graph.script(["500", "500"])
    await meta.delivered(delivery(text_message("wamid.flaky-1", FORM_ORDER)))

    assert meta.graph.count() == 3
    (reply,) = meta.graph.sent
    assert "Reply YES" in reply.body
    (row,) = (await meta.admin("GET", "/messages")).json()["items"]
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, None)


async def test_a_send_that_keeps_failing_stays_queued_visibly_and_is_sent_later(meta: Meta) -> None:
    deferred_before = _replies("deferred")
    meta.graph.script(["503", "503", "429:0"])
    await meta.delivered(delivery(text_message("wamid.down-1", FORM_ORDER)))

    (row,) = (await meta.admin("GET", "/messages", params={"status": "queued"})).json()["items"]
    assert "130429" in row["last_error"] and row["reply"] and row["next_attempt_at"]
    assert meta.graph.sent == []
    assert _replies("deferred") == deferred_before + 1

    assert await tasks.run_once(meta.desk.ctx) == {}  # not due yet
    outcomes = await tasks.run_once(meta.desk.ctx, now=utcnow() + timedelta(minutes=5))

    assert outcomes == {"sent": 1}
    (reply,) = meta.graph.sent
    assert reply.body == row["reply"]  # the stored reply, not a second turn
    assert await counts(meta.desk.ctx, meta.desk.workspace_id) == (1, 0, 0)  # one draft order, awaiting YES


async def test_a_delivery_cut_off_mid_send_is_finished_by_the_sweep_once(meta: Meta) -> None:
    meta.graph.script(["delay:30"])  # the Graph API hangs, and the process stops meanwhile
    response = await meta.deliver(delivery(text_message("wamid.crash-1", FORM_ORDER)))
    for _ in range(6000):  # until the send has reached the Graph API
        if meta.graph.count():
            break
        await asyncio.sleep(0.01)
    await tasks.use_policy(meta.desk.ctx, FAST)  # the old worker is stopped mid-send; its claim stays

    assert response.status_code == 200
    assert await tasks.run_once(meta.desk.ctx) == {}  # claimed by the dead worker until its lease runs out
    outcomes = await tasks.run_once(meta.desk.ctx, now=utcnow() + queue.LEASE + timedelta(seconds=1))

    assert outcomes == {"sent": 1}
    (reply,) = meta.graph.sent
    assert "Reply YES" in reply.body
    assert await counts(meta.desk.ctx, meta.desk.workspace_id) == (1, 0, 0)


async def test_a_refused_send_is_given_up_with_graphs_reason(meta: Meta) -> None:
    failed_before = _replies("failed")
    response = await meta.admin(
        "PUT",
        "/config",
        json={
            "phone_number_id": meta.graph.phone_number_id,
            "access_token": "EAAG-revoked",
            "graph_base_url": meta.graph.base_url,
        },
    )
    assert response.status_code == 200, response.text
    await meta.delivered(delivery(text_message("wamid.revoked-1", "hello")))

    (row,) = (await meta.admin("GET", "/messages", params={"status": "failed"})).json()["items"]
    assert "401" in row["last_error"] and "code 190" in row["last_error"]
    assert meta.graph.count() == 1  # a 401 is not retried
    assert _replies("failed") == failed_before + 1


# ------------------------------------------------------------------------------------------- the connection API


async def test_the_connection_api_never_shows_the_secrets_and_is_admin_only(meta: Meta) -> None:
    shown = await meta.admin("GET", "/config")
    as_operator = await meta.http.get(
        meta.desk.url("/channels/whatsapp/config"), headers=meta.desk.tenant.headers(Role.operator)
    )
    kept = await meta.admin(
        "PUT",
        "/config",
        json={
            "phone_number_id": meta.graph.phone_number_id,
            "graph_base_url": meta.graph.base_url,
            "api_version": "v22.0",
        },
    )

    assert shown.status_code == 200 and kept.status_code == 200
    for response in (shown, kept):
        body = response.json()
        assert body["access_token_set"] and body["app_secret_set"]
        assert meta.graph.access_token not in response.text and APP_SECRET not in response.text
        assert body["webhook_path"] == f"/api/v1/channels/whatsapp/{meta.desk.tenant.slug}/webhook"
    assert kept.json()["api_version"] == "v22.0" and kept.json()["verify_token"] == VERIFY_TOKEN
    assert as_operator.status_code == 403

    await meta.delivered(delivery(text_message("wamid.v22", "hello")))
    assert meta.graph.sent[0].version == "v22.0"  # the secrets kept working after the update


async def test_a_disconnected_number_no_longer_takes_deliveries(meta: Meta) -> None:
    deleted = await meta.admin("DELETE", "/config")
    after = await meta.deliver(delivery(text_message("wamid.late", "hello")))
    shown = await meta.admin("GET", "/config")

    assert deleted.status_code == 204
    assert after.status_code == 404 and shown.status_code == 404


# ------------------------------------------------------------------------------------------- pieces (no database)


def test_the_signature_is_the_hmac_of_the_raw_body() -> None:
    body = '{"object":"whatsapp_business_account","entry":[{"text":"café 🍕"}]}'.encode()
    digest = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()

    check_signature("s3cret", body, f"sha256={digest}")
    check_signature("s3cret", body, f"sha256={digest.upper()}")
    with pytest.raises(NotAuthenticated):
        check_signature("s3cret", body, None)
    with pytest.raises(NotAuthenticated):
        check_signature("s3cret", body, digest)
    with pytest.raises(PermissionDenied):
        check_signature("s3cret", body + b" ", f"sha256={digest}")
    with pytest.raises(PermissionDenied):
        check_signature("s3cret", body, "sha256=é" + digest)


def test_a_reply_longer_than_whatsapp_allows_is_sent_in_parts_cut_at_lines() -> None:
    lines = [f"{n:03d} " + "x" * 95 for n in range(100)]  # 100 lines of 99 characters
    parts = split_text("\n".join(lines))

    assert len(parts) == 3 and all(len(part) <= MAX_TEXT for part in parts)
    assert "\n".join(parts).split("\n") == lines
    assert split_text("y" * 5000) == ["y" * MAX_TEXT, "y" * 904]
