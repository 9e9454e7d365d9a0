"""Inbound normalisation and the semantic cache's verification step (no database)."""

from __future__ import annotations

import uuid

import pytest

from opsdesk.conversation.channels import (
    Inbound,
    TextIssue,
    clean_text,
    from_chat,
    from_whatsapp,
    phone_of,
    text_issue,
)
from opsdesk.conversation.schemas import ChatMessageIn, WhatsAppWebhook
from opsdesk.conversation.semantic import Candidate, SubjectTerms, agrees, choose
from opsdesk.core.errors import InvalidInput
from opsdesk.core.text import singular
from tests.conversation.conftest import whatsapp_payload


def _inbound(text: str, kind: str = "text") -> Inbound:
    return Inbound(channel="chat", sender="s", text=clean_text(text), solution="x", kind=kind)


def test_whatsapp_webhook_becomes_one_inbound_message_per_message() -> None:
    (message,) = from_whatsapp(WhatsAppWebhook.model_validate(whatsapp_payload("wamid.1", "hi there")), solution="x")
    assert (message.channel, message.sender, message.external_id, message.text) == (
        "whatsapp",
        "6591234567",
        "wamid.1",
        "hi there",
    )
    assert (message.sender_name, message.sender_phone) == ("Mary", "+6591234567")


def test_whatsapp_image_is_flagged_unsupported() -> None:
    payload = whatsapp_payload("wamid.2", "")
    payload["entry"][0]["changes"][0]["value"]["messages"][0] = {
        "from": "6591234567",
        "id": "wamid.2",
        "type": "image",
        "image": {"id": "MEDIA-1"},
    }
    (message,) = from_whatsapp(WhatsAppWebhook.model_validate(payload), solution="x")
    assert text_issue(message, 4000) == TextIssue.unsupported


def test_whatsapp_status_updates_carry_no_messages() -> None:
    payload = {"entry": [{"changes": [{"value": {"statuses": [{"id": "wamid.1", "status": "read"}]}}]}]}
    assert from_whatsapp(WhatsAppWebhook.model_validate(payload), solution="x") == []


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        ("", TextIssue.empty),
        ("  \u200b\t ", TextIssue.empty),
        ("👍🍕🎉", TextIssue.emoji_only),
        ("x" * 5000, TextIssue.too_long),
    ],
)
def test_text_issues(text: str, issue: TextIssue) -> None:
    assert text_issue(_inbound(text), 4000) == issue


def test_script_and_sql_text_is_ordinary_text() -> None:
    assert text_issue(_inbound("<script>alert(1)</script>'; DROP TABLE orders; --"), 4000) is None


def test_chat_api_refuses_empty_and_oversized_text() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        from_chat(ChatMessageIn(text="   ", sender="a"), solution="x", max_chars=100, idempotency_key=None)
    with pytest.raises(InvalidInput, match="limit"):
        from_chat(ChatMessageIn(text="y" * 101, sender="a"), solution="x", max_chars=100, idempotency_key=None)


def test_phone_numbers_are_recognised_in_common_formats() -> None:
    assert phone_of("+65 9123 4567") == "+6591234567"
    assert phone_of("6591234567") == "+6591234567"
    assert phone_of("user-42") is None


def _candidate(question: str, similarity: float, answer: str | None = None) -> Candidate:
    return Candidate(uuid.uuid4(), question, {"text": answer or question}, similarity)


def test_semantic_match_needs_the_same_days_and_numbers() -> None:
    assert not agrees("Do you deliver on Sunday?", "Do you deliver on Saturday?")
    assert not agrees('price of the 12" box', 'price of the 10" box')
    assert agrees("What are your payment terms?", "Which payment terms do you offer?")


def test_semantic_match_is_refused_when_two_answers_are_equally_close() -> None:
    close = [_candidate("How do I pay?", 0.91), _candidate("How can I pay?", 0.90)]
    assert choose("how to pay", close, threshold=0.8, margin=0.025) is None
    same_answer = [_candidate("How do I pay?", 0.91, "PayNow"), _candidate("How can I pay?", 0.90, "PayNow")]
    assert choose("how to pay", same_answer, threshold=0.8, margin=0.025) is not None
    assert choose("how to pay", [_candidate("How do I pay?", 0.79)], threshold=0.8, margin=0.025) is None


PACKAGING = SubjectTerms(
    kinds=frozenset({"container", "tray", "bag", "liner", "box", "fork", "spoon", "set"}),
    qualifiers=frozenset({"kraft", "plastic", "pizza", "meal", "round", "wooden", "regular", "premium"}),
)


def test_semantic_match_needs_the_same_subjects() -> None:
    assert not PACKAGING.agree("Are your containers microwave safe?", "Are your meal trays microwave safe?")
    assert not PACKAGING.agree("Is the kraft bag recyclable?", "Are plastic bags recyclable?")
    assert not PACKAGING.agree("Do wooden forks come in a set?", "Do wooden spoons come in a set?")
    assert not PACKAGING.agree("Are boxes microwave safe?", "Is it microwave safe?")
    assert PACKAGING.agree("Do you sell liners separately?", "Can I buy pizza box liners on their own?")
    assert PACKAGING.agree("Regular vs premium boxes?", "How are premium pizza boxes different from regular ones?")
    assert PACKAGING.agree("What are your payment terms?", "Which payment terms do you offer?")


def test_a_match_about_another_product_is_refused() -> None:
    cached = [_candidate("Are your containers microwave safe?", 0.83)]
    assert choose("Are your meal trays microwave safe?", cached, threshold=0.8, margin=0.025) is not None
    assert choose("Are your meal trays microwave safe?", cached, 0.8, 0.025, PACKAGING) is None
    assert choose("Are the round containers microwave safe?", cached, 0.8, 0.025, PACKAGING) is not None


@pytest.mark.parametrize(
    ("plural", "one"),
    [
        ("boxes", "box"),
        ("trays", "tray"),
        ("knives", "knife"),
        ("berries", "berry"),
        ("glass", "glass"),
        ("bus", "bus"),
    ],
)
def test_plural_nouns_read_as_singular(plural: str, one: str) -> None:
    assert singular(plural) == one
