"""Inbound normalisation: the chat API's JSON and WhatsApp Cloud API webhooks become `Inbound` messages.

Text is checked here once for every channel: control characters are dropped, and a message that is empty, too
long, emoji-only or not text at all is flagged so the runtime answers it politely instead of guessing.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from opsdesk.conversation.schemas import ChatMessageIn, WhatsAppMessage, WhatsAppWebhook
from opsdesk.core.errors import InvalidInput

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ud800-\udfff]")
_PHONE_DIGITS = re.compile(r"^\+?[\d\s().-]{7,24}$")


class TextIssue(StrEnum):
    empty = "empty"
    too_long = "too_long"
    emoji_only = "emoji_only"
    unsupported = "unsupported"  # an image, a voice note, a location… on a text channel


@dataclass(frozen=True)
class Inbound:
    """One customer message, whatever channel it came by."""

    channel: str  # chat | whatsapp | voice
    sender: str
    text: str
    solution: str
    external_id: str | None = None
    sender_name: str | None = None
    sender_phone: str | None = None
    session_id: uuid.UUID | None = None
    kind: str = "text"  # the channel's message type; anything but text is `unsupported`
    metadata: dict[str, Any] = field(default_factory=dict)


def clean_text(text: str) -> str:
    """NFC, no control or invisible formatting characters, no surrounding whitespace."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


def text_issue(inbound: Inbound, max_chars: int) -> TextIssue | None:
    if inbound.kind != "text":
        return TextIssue.unsupported
    if not inbound.text:
        return TextIssue.empty
    if len(inbound.text) > max_chars:
        return TextIssue.too_long
    if not any(unicodedata.category(char)[0] in "LN" for char in inbound.text):
        return TextIssue.emoji_only
    return None


def phone_of(sender: str) -> str | None:
    """ "+<digits>" when the sender id looks like a phone number (WhatsApp's `from` has no plus)."""
    if not _PHONE_DIGITS.match(sender.strip()):
        return None
    digits = re.sub(r"\D", "", sender)
    return f"+{digits}" if 7 <= len(digits) <= 15 else None


def from_chat(body: ChatMessageIn, *, solution: str, max_chars: int, idempotency_key: str | None) -> Inbound:
    """A chat API message; empty and oversized text is refused here (400) rather than answered."""
    text = clean_text(body.text)
    if not text:
        raise InvalidInput("The message text is empty.", code="empty_message")
    if len(text) > max_chars:
        raise InvalidInput(
            f"The message is {len(text):,} characters; the limit is {max_chars:,}.", code="message_too_long"
        )
    if body.session_id is None and not body.sender:
        raise InvalidInput("Give a session_id to continue a conversation, or a sender to start one.")
    sender = (body.sender or "").strip()
    return Inbound(
        channel="chat",
        sender=sender,
        text=text,
        solution=body.solution or solution,
        external_id=body.message_id or idempotency_key,
        sender_name=body.sender_name,
        sender_phone=phone_of(body.phone) if body.phone else phone_of(sender),
        session_id=body.session_id,
    )


def _text_of(message: WhatsAppMessage) -> tuple[str, str]:
    """(kind, text) of a WhatsApp message; buttons and list replies count as text."""
    if message.type == "text" and message.text is not None:
        return "text", message.text.body
    if message.type == "button" and message.button is not None:
        return "text", message.button.text
    if message.type == "interactive" and message.interactive is not None:
        reply = message.interactive.button_reply or message.interactive.list_reply
        if reply is not None:
            return "text", reply.title
    return message.type, ""


def from_whatsapp(payload: WhatsAppWebhook, *, solution: str) -> list[Inbound]:
    """Every customer message of a webhook call (status updates carry none)."""
    messages: list[Inbound] = []
    for entry in payload.entry:
        for change in entry.changes:
            value = change.value
            names = {contact.wa_id: contact.profile.name for contact in value.contacts if contact.profile}
            for message in value.messages:
                kind, text = _text_of(message)
                messages.append(
                    Inbound(
                        channel="whatsapp",
                        sender=message.from_,
                        text=clean_text(text),
                        solution=solution,
                        external_id=message.id,
                        sender_name=names.get(message.from_),
                        sender_phone=phone_of(message.from_),
                        kind="text" if kind == "text" else "unsupported",
                        metadata={"timestamp": message.timestamp, "type": message.type},
                    )
                )
    return messages


def whatsapp_send_body(to: str, text: str) -> dict[str, Any]:
    """The reply in the shape of WhatsApp Cloud API's send-message request, ready to forward."""
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": text},
    }
