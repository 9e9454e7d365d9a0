"""Request and response bodies of the WhatsApp Cloud API connection: its configuration and the message queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from opsdesk.conversation.schemas import Text

DEFAULT_GRAPH_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
_ID = r"^[0-9A-Za-z_-]+$"  # Meta's ids are digits; they go into a URL path, so nothing that could change it
_TOKEN = r"^[\x21-\x7e]+$"  # printable ASCII, no spaces: what Meta issues and what a header can carry


class WhatsAppConfigIn(BaseModel):
    """A WhatsApp Business number's connection. On an update, a secret left out keeps its stored value."""

    model_config = ConfigDict(extra="forbid")

    phone_number_id: str = Field(min_length=1, max_length=64, pattern=_ID, description="Meta's id of the number.")
    access_token: str | None = Field(
        default=None, min_length=1, max_length=4000, pattern=_TOKEN, description="A system user's token (secret)."
    )
    app_secret: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=_TOKEN, description="The Meta app's secret (secret)."
    )
    verify_token: str | None = Field(
        default=None,
        min_length=8,
        max_length=200,
        pattern=_TOKEN,
        description="What Meta must present when it verifies the webhook; generated when left out.",
    )
    graph_base_url: str = Field(
        default=DEFAULT_GRAPH_BASE_URL, max_length=500, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
    )
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^v\d{1,3}\.\d{1,3}$")
    solution: Text | None = Field(
        default=None, max_length=50, description="The solution that answers; defaults to the configured one."
    )


class WhatsAppConfigOut(BaseModel):
    """The connection as the API shows it: secrets only as "set"."""

    workspace: str
    phone_number_id: str
    access_token_set: bool
    app_secret_set: bool
    verify_token: str
    graph_base_url: str
    api_version: str
    solution: str | None
    webhook_path: str = Field(description="Give Meta this path on opsdesk's public address as the callback URL.")
    created_at: datetime
    updated_at: datetime


class WebhookAck(BaseModel):
    """What the webhook answers Meta (Meta reads only the status)."""

    queued: int = Field(description="New customer messages stored for an answer.")
    duplicates: int = Field(description="Messages received before (Meta's redeliveries).")
    ignored: int = Field(description="Status callbacks, reactions, other numbers' messages.")


class WhatsAppInboundOut(BaseModel):
    """One acknowledged customer message and what became of its reply."""

    id: uuid.UUID
    message_id: str
    sender: str
    status: Literal["queued", "sent", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    reply: str | None
    reply_message_ids: list[str]
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
