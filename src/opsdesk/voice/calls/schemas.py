"""What the call records API answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class CallSummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    call_id: str
    caller: str
    started_at: datetime
    ended_at: datetime | None
    intents: list[str]
    auth_outcome: str
    transfers: int
    end_reason: str
    live: bool  # going on now (ended_at null); a row left without an end by a process that died is not: it is "lost"
    recorded: bool  # a recording of the caller's audio can be fetched from …/recording (write permission)


class CallOut(CallSummaryOut):
    transfer_summary: str | None
    stage_latencies: dict[str, Any]
    transcript: list[dict[str, str]]
