"""Request and response bodies of the delivery list API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class DeliveryTemplateOut(BaseModel):
    """A workspace's delivery-list template: the workbook kept (its sheets) and the mapping that fills it."""

    file_name: str
    sha256: str
    size_bytes: int
    sheets: list[str]
    mapping: dict[str, Any]
    updated_at: datetime
