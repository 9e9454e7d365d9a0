"""Request and response bodies of the conversation API, including WhatsApp Cloud API's webhook shape."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# The chat API refuses oversized text with a clear 400 (in the runtime); this only bounds the JSON body.
_MAX_TEXT = 100_000
NO_NUL = r"^[^\x00]*$"  # for query parameters: PostgreSQL text cannot hold NUL


def _storable(value: str) -> str:
    """PostgreSQL text cannot hold NUL, nor UTF-8 an unpaired surrogate: refuse them (400) instead of failing."""
    if "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value):
        raise ValueError("contains a NUL character or an unpaired surrogate")
    return value


Text = Annotated[str, AfterValidator(_storable)]


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=_MAX_TEXT, description="The customer's message.")
    session_id: uuid.UUID | None = Field(default=None, description="Continue this conversation.")
    sender: Text | None = Field(default=None, max_length=128, description="Start or continue this sender's one.")
    sender_name: Text | None = Field(default=None, max_length=200)
    phone: Text | None = Field(default=None, max_length=32, description="The sender's phone, if not the sender id.")
    message_id: Text | None = Field(
        default=None, max_length=200, description="The client's id of this message: a resend is answered once."
    )
    solution: Text | None = Field(default=None, max_length=50, description="Defaults to the configured solution.")
    stream: bool = Field(default=False, description="Reply as server-sent events.")


class TurnOut(BaseModel):
    """The answer to one inbound message."""

    session_id: uuid.UUID
    message_id: uuid.UUID
    reply_id: uuid.UUID | None
    reply: str
    intent: str | None
    confidence: float | None = None
    intent_source: str | None = None
    cached: Literal["l1", "l2"] | None = Field(default=None, description="The cache tier that served the reply.")
    duplicate: bool = Field(default=False, description="This message was received before; its first reply.")
    status: Literal["replied", "processing"] = "replied"
    escalation_id: uuid.UUID | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class SessionOut(BaseModel):
    id: uuid.UUID
    channel: str
    sender: str
    sender_name: str | None
    solution: str
    status: str
    state: dict[str, Any]
    last_intent: str | None
    last_activity_at: datetime
    created_at: datetime
    closed_at: datetime | None


class MessageOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    direction: Literal["in", "out"]
    text: str = Field(description="The text; masked for callers without write permission.")
    masked_text: str
    intent: str | None
    status: str
    external_id: str | None
    reply_to_id: uuid.UUID | None
    metadata: dict[str, Any]
    created_at: datetime


class EscalationOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    message_id: uuid.UUID | None
    level: str
    reason: str
    complaint: bool
    amount: Decimal | None
    sla_due_at: datetime
    overdue: bool
    breached: bool
    status: str
    assignee: str | None
    notes: list[dict[str, Any]]
    history: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text | None = Field(default=None, max_length=4000)


class AssignIn(NoteIn):
    assignee: Text = Field(min_length=1, max_length=200)


class EscalateIn(BaseModel):
    """An operator (or an integration) hands a conversation to people."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1, max_length=2000)
    level: Literal["ai", "staff", "manager", "director"] = "staff"
    complaint: bool = False
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2, allow_inf_nan=False)


class SlaCheckOut(BaseModel):
    bumped: int
    breached: int


class PurgeOut(BaseModel):
    deleted_messages: int
    deleted_cache_entries: int
    retention_days: int


# ------------------------------------------------------------------------------------ WhatsApp Cloud API shape


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class WhatsAppText(_Lenient):
    body: str = Field(max_length=_MAX_TEXT)


class WhatsAppButton(_Lenient):
    text: Text = Field(max_length=2000)


class WhatsAppReplyChoice(_Lenient):
    id: Text = ""
    title: Text = Field(default="", max_length=2000)


class WhatsAppInteractive(_Lenient):
    button_reply: WhatsAppReplyChoice | None = None
    list_reply: WhatsAppReplyChoice | None = None


class WhatsAppMessage(_Lenient):
    from_: Text = Field(alias="from", min_length=1, max_length=64)
    id: Text = Field(min_length=1, max_length=200)
    timestamp: Text | None = Field(default=None, max_length=40)
    type: Text = Field(default="text", max_length=40)
    text: WhatsAppText | None = None
    button: WhatsAppButton | None = None
    interactive: WhatsAppInteractive | None = None


class WhatsAppProfile(_Lenient):
    name: Text | None = Field(default=None, max_length=200)


class WhatsAppContact(_Lenient):
    wa_id: Text = Field(default="", max_length=64)
    profile: WhatsAppProfile | None = None


class WhatsAppMetadata(_Lenient):
    display_phone_number: Text | None = Field(default=None, max_length=64)
    phone_number_id: Text | None = Field(default=None, max_length=64)


class WhatsAppStatusError(_Lenient):
    code: int | None = None
    title: Text | None = Field(default=None, max_length=500)
    message: Text | None = Field(default=None, max_length=1000)


class WhatsAppStatus(_Lenient):
    """A callback about a message the business sent: sent, delivered, read, or failed (with its errors)."""

    id: Text = Field(min_length=1, max_length=200)
    status: Text = Field(max_length=40)
    recipient_id: Text | None = Field(default=None, max_length=64)
    errors: list[WhatsAppStatusError] = Field(default_factory=list, max_length=20)


class WhatsAppValue(_Lenient):
    messaging_product: str | None = None
    metadata: WhatsAppMetadata | None = None  # which of the business's numbers received the messages
    contacts: list[WhatsAppContact] = Field(default_factory=list, max_length=100)
    messages: list[WhatsAppMessage] = Field(default_factory=list, max_length=100)
    statuses: list[WhatsAppStatus] = Field(default_factory=list, max_length=1000)


class WhatsAppChange(_Lenient):
    field: str | None = None
    value: WhatsAppValue


class WhatsAppEntry(_Lenient):
    id: str | None = None
    changes: list[WhatsAppChange] = Field(max_length=100)


class WhatsAppWebhook(_Lenient):
    object: str | None = None
    entry: list[WhatsAppEntry] = Field(min_length=1, max_length=100)


class WhatsAppReplyOut(BaseModel):
    message_id: str = Field(description="The inbound WhatsApp message id.")
    to: str
    duplicate: bool
    turn: TurnOut
    send: dict[str, Any] = Field(description="The reply as a WhatsApp Cloud API send-message body.")


class WhatsAppWebhookOut(BaseModel):
    replies: list[WhatsAppReplyOut]
