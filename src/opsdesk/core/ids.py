"""Identifiers: sortable UUIDv7-style ids and request ids."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7 layout), so primary keys index well."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68) << 64 & (0xFFF << 64)
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def new_request_id() -> str:
    """A short random id that ties a response to its log lines."""
    return "req_" + uuid.uuid4().hex[:20]
