"""What an event is, on the wire and for a handler: a typed record with a JSON payload."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

# Dotted lower-case words, at least two: `order.confirmed`, `agent.task.failed`. A type is an AMQP routing key, so
# `*` and `#` (the binding wildcards) are never part of one.
_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
MAX_TYPE_LENGTH = 100
MAX_KEY_LENGTH = 200
MAX_PAYLOAD_BYTES = 256 * 1024

# The business events opsdesk publishes today (a type not listed here may be published all the same).
KNOWN_TYPES = (
    "order.confirmed",
    "order.cancelled",
    "invoice.posted",
    "agent.task.assigned",
    "agent.task.completed",
    "agent.task.failed",
    "workflow.step.completed",
    "approval.requested",
    "call.ended",
)


class InvalidEvent(ValueError):
    """The event cannot be published as given (a malformed type or key, or a payload that is not JSON)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One event as a consumer sees it; `id` is the de-duplication key, `key` orders the events of one entity."""

    id: uuid.UUID
    type: str
    occurred_at: datetime
    payload: dict[str, Any]
    workspace_id: uuid.UUID | None = None
    key: str | None = None
    # The W3C trace context of the span that published it: a handler's span continues that trace. It travels
    # beside the body (the outbox row, AMQP headers), not in it.
    trace_context: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        body = {
            "id": str(self.id),
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "workspace_id": None if self.workspace_id is None else str(self.workspace_id),
            "key": self.key,
            "payload": self.payload,
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Event:
        """Reads a message body `to_json` wrote; anything else is an InvalidEvent."""
        try:
            data = json.loads(body)
            workspace = data.get("workspace_id")
            payload = data["payload"]
            if not isinstance(payload, dict):
                raise TypeError("the payload is not an object")
            return cls(
                id=uuid.UUID(data["id"]),
                type=check_type(data["type"]),
                occurred_at=datetime.fromisoformat(data["occurred_at"]),
                payload=payload,
                workspace_id=None if workspace is None else uuid.UUID(workspace),
                key=check_key(data.get("key")),
            )
        except InvalidEvent:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidEvent(f"Not an opsdesk event: {type(exc).__name__}: {exc}") from exc


def check_type(event_type: Any) -> str:
    if not isinstance(event_type, str) or len(event_type) > MAX_TYPE_LENGTH or not _TYPE.fullmatch(event_type):
        raise InvalidEvent(
            f"Event type {event_type!r} is not dotted lower-case words (like 'order.confirmed'), "
            f"at most {MAX_TYPE_LENGTH} characters."
        )
    return event_type


def check_key(key: str | None) -> str | None:
    if key is not None and (not key or len(key) > MAX_KEY_LENGTH or "\x00" in key):
        raise InvalidEvent(f"An event key is 1 to {MAX_KEY_LENGTH} characters without NUL.")
    return key


def to_json_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as plain JSON: decimals, ids, dates and enums become strings, NUL characters (which PostgreSQL's
    jsonb refuses) U+FFFD; anything else that is not JSON refuses."""
    try:
        text = json.dumps(_scrub(payload), default=_plain, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"The event payload is not JSON: {exc}") from exc
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise InvalidEvent(f"The event payload is larger than {MAX_PAYLOAD_BYTES // 1024} KiB.")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise InvalidEvent("The event payload is a JSON object.")
    return data


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_scrub(k) if isinstance(k, str) else k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
