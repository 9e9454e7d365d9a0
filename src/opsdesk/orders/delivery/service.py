"""Delivery lists: every delivery order of a date range in one workbook, a sheet per delivery day.

A workspace may upload its own workbook and a mapping (`DeliveryTemplateMapping`); the list is then that workbook
with a row appended per delivery order, the way its staff kept it by hand. Without one, the list uses opsdesk's
plain layout, built by the same code from a one-sheet header-only workbook.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import date
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.knowledge.extraction.archive import check_archive
from opsdesk.knowledge.extraction.errors import CorruptDocument, SuspiciousArchive
from opsdesk.knowledge.extraction.types import ExtractionLimits
from opsdesk.orders.delivery.schemas import DeliveryTemplateOut
from opsdesk.orders.documents import DeliveryLine, DeliveryOrderData, DocumentError
from opsdesk.orders.documents.delivery_order import workbook_bytes
from opsdesk.orders.documents.delivery_template import DeliveryTemplateMapping, append_deliveries
from opsdesk.orders.models import DeliveryOrder, DeliveryTemplate, Order

MAX_TEMPLATE_BYTES = 5 * 1024 * 1024  # a delivery-list workbook is a few sheets of rows
MAX_RANGE_DAYS = 62
_TEMPLATE_LIMITS = ExtractionLimits(max_zip_members=500, max_uncompressed_bytes=50 * 1024 * 1024)
_ZIP_MAGIC = b"PK\x03\x04"
_PLAIN_SHEET = "Deliveries"
_PLAIN_HEADERS = ("DO number", "Company", "Place of delivery", "Cartons", "Remark", "Delivery date", "Slot")
_PLAIN_MAPPING = {
    "sheet_pattern": "{date:%Y-%m-%d} {weekday}",
    "template_sheet": _PLAIN_SHEET,
    "first_data_row": 2,
    "columns": {
        "number": "A",
        "company": "B",
        "place": "C",
        "cartons": "D",
        "remark": "E",
        "delivery_date": "F",
        "slot": "G",
    },
}


def _open_workbook(data: bytes, file_name: str) -> Any:
    """The workbook, after the checks an uploaded .xlsx gets: its name, its ZIP container, its size when expanded."""
    if not file_name.lower().endswith(".xlsx"):
        raise InvalidInput(f"{file_name!r} is not an .xlsx workbook.", code="unsupported_type")
    if not data.startswith(_ZIP_MAGIC):
        raise InvalidInput(f"{file_name!r} is not an .xlsx workbook (no ZIP container).", code="unsupported_type")
    try:
        check_archive(data, _TEMPLATE_LIMITS, kind="workbook")
    except (CorruptDocument, SuspiciousArchive) as exc:
        raise InvalidInput(str(exc), code="bad_workbook") from exc
    try:
        return load_workbook(BytesIO(data))
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for damaged workbooks
        raise InvalidInput(f"{file_name!r} cannot be opened as a workbook: {exc}", code="bad_workbook") from exc


def _check(data: bytes, file_name: str, mapping: DeliveryTemplateMapping) -> list[str]:
    """The workbook's sheet names, once it has passed the upload checks and taken a sample delivery."""
    workbook = _open_workbook(data, file_name)
    sheets = list(workbook.sheetnames)
    _trial(workbook, mapping)
    return sheets


def _trial(workbook: Any, mapping: DeliveryTemplateMapping) -> None:
    """Fills the opened workbook (not what is kept) with a sample delivery: a mapping that cannot work fails now."""
    named = mapping.template_sheet
    if named is not None and named.casefold() not in {title.casefold() for title in workbook.sheetnames}:
        raise DocumentError(f"the workbook has no template sheet {named!r} (it has {', '.join(workbook.sheetnames)})")
    sample = DeliveryOrderData(
        number="DO-20250303-00001",
        delivery_date=date(2025, 3, 3),
        outlet_name="Sample outlet",
        billing_entity="Sample Pte Ltd",
        delivery_address="1 Sample Road",
        lines=(DeliveryLine(sku="SAMPLE", description="Sample", quantity=1, unit="ctn", cartons=1),),
    )
    append_deliveries(workbook, [sample], mapping)


async def save_template(
    session: AsyncSession, workspace_id: uuid.UUID, data: bytes, file_name: str, mapping_json: str
) -> DeliveryTemplateOut:
    """Checks the workbook and the mapping together and keeps them as the workspace's delivery-list template."""
    if not data:
        raise InvalidInput("The template file is empty.", code="empty_file")
    mapping = DeliveryTemplateMapping.from_json(mapping_json)
    sheets = await asyncio.to_thread(_check, data, file_name, mapping)  # openpyxl is CPU work: off the event loop
    row = await session.get(DeliveryTemplate, workspace_id)
    if row is None:
        row = DeliveryTemplate(workspace_id=workspace_id)
        session.add(row)
    row.file_name = file_name[:255]
    row.sha256 = hashlib.sha256(data).hexdigest()
    row.workbook = data
    row.mapping = json.loads(mapping_json)  # valid: from_json has read it
    await session.flush()
    await session.refresh(row)
    return _info(row, sheets)


def _info(row: DeliveryTemplate, sheets: list[str]) -> DeliveryTemplateOut:
    return DeliveryTemplateOut(
        file_name=row.file_name,
        sha256=row.sha256,
        size_bytes=len(row.workbook),
        sheets=sheets,
        mapping=row.mapping,
        updated_at=row.updated_at,
    )


def _sheet_names(data: bytes) -> list[str]:
    return list(load_workbook(BytesIO(data), read_only=True).sheetnames)


async def _template(session: AsyncSession, workspace_id: uuid.UUID) -> DeliveryTemplate:
    row = await session.get(DeliveryTemplate, workspace_id)
    if row is None:
        raise NotFound("This workspace has no delivery-list template; the plain layout is used.", code="no_template")
    return row


async def template_info(session: AsyncSession, workspace_id: uuid.UUID) -> DeliveryTemplateOut:
    row = await _template(session, workspace_id)
    return _info(row, await asyncio.to_thread(_sheet_names, row.workbook))


async def template_file(session: AsyncSession, workspace_id: uuid.UUID) -> tuple[str, bytes]:
    row = await _template(session, workspace_id)
    return row.file_name, row.workbook


async def delete_template(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    await session.delete(await _template(session, workspace_id))


def _plain_workbook() -> Any:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _PLAIN_SHEET
    sheet.append(_PLAIN_HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDEFG", (20, 30, 45, 9, 30, 14, 13), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    return workbook


async def deliveries_between(
    session: AsyncSession, workspace_id: uuid.UUID, date_from: date, date_to: date
) -> list[DeliveryOrderData]:
    """Delivery orders of orders not cancelled, by day, slot and number."""
    rows = await session.scalars(
        select(DeliveryOrder)
        .join(Order, Order.id == DeliveryOrder.order_id)
        .where(
            DeliveryOrder.workspace_id == workspace_id,
            DeliveryOrder.delivery_date >= date_from,
            DeliveryOrder.delivery_date <= date_to,
            Order.status != "cancelled",
        )
        .order_by(DeliveryOrder.delivery_date, DeliveryOrder.slot, DeliveryOrder.number)
    )
    return [DeliveryOrderData.from_dict(row.data) for row in rows]


async def delivery_list(
    session: AsyncSession, workspace_id: uuid.UUID, date_from: date, date_to: date
) -> tuple[str, bytes, int]:
    """(file name, .xlsx bytes, deliveries listed) for the range, in the workspace's template or the plain layout."""
    if date_to < date_from:
        raise InvalidInput("date_to is before date_from.", code="bad_range")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"A delivery list covers at most {MAX_RANGE_DAYS} days.", code="bad_range")
    deliveries = await deliveries_between(session, workspace_id, date_from, date_to)
    row = await session.get(DeliveryTemplate, workspace_id)
    template = None if row is None else (row.workbook, row.mapping)
    data = await asyncio.to_thread(_fill, template, deliveries)  # openpyxl is CPU work: off the event loop
    return f"deliveries-{date_from.isoformat()}-to-{date_to.isoformat()}.xlsx", data, len(deliveries)


def _fill(template: tuple[bytes, dict[str, Any]] | None, deliveries: list[DeliveryOrderData]) -> bytes:
    """The workspace's template (workbook, mapping) or the plain layout, with the deliveries appended."""
    try:
        if template is None:
            workbook, mapping = _plain_workbook(), DeliveryTemplateMapping.from_dict(_PLAIN_MAPPING)
        else:
            # A mapping kept before today's checks may fail them: a 400 saying so, never a 500.
            workbook, mapping = load_workbook(BytesIO(template[0])), DeliveryTemplateMapping.from_dict(template[1])
        append_deliveries(workbook, deliveries, mapping)
    except DocumentError as exc:  # e.g. a day sheet of the user's template is full
        raise InvalidInput(f"The delivery list cannot be filled: {exc.message}", code="template_fill_failed") from exc
    if template is None and len(workbook.worksheets) > 1:
        workbook.remove(workbook[_PLAIN_SHEET])
    return workbook_bytes(workbook)
