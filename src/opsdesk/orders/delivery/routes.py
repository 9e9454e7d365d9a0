"""Delivery lists over the API: the workspace's own template (upload, read, download, delete) and the filled list."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.deps import get_session, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.service import Principal
from opsdesk.core.uploads import read_upload
from opsdesk.orders.delivery import service
from opsdesk.orders.delivery.schemas import DeliveryTemplateOut

PREFIX = "/api/v1/workspaces/{workspace}/delivery-lists"
can_read = require_in_workspace(Permission.read)
can_write = require_in_workspace(Permission.write)
session_dep = Depends(get_session, scope="function")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MAPPING_HELP = (
    'JSON, e.g. {"sheet_pattern": "{weekday}", "first_data_row": 3, "columns": {"row_number": "A", "number": "B", '
    '"company": "C", "place": "D", "cartons": "E", "remark": "F", "products": {"PB-10": "G"}}}. Only the columns '
    "named are written; row_number is the sheet's own numbering column (kept, continued when empty). Columns: "
    "number, company, place, cartons, remark, delivery_date, slot, row_number, products (SKU to column). Other "
    "keys: template_sheet (copied for a missing day sheet), last_data_row, company_format, place_format. Sheet "
    "pattern fields: {weekday}, {weekday_long}, {date:%d-%m}."
)

router = APIRouter(prefix=PREFIX, tags=["orders"])


def _attachment(name: str, **headers: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', **headers}


@router.put("/template", response_model=DeliveryTemplateOut)
async def put_template(
    workspace: str,
    file: UploadFile = File(..., description="The delivery-list workbook (.xlsx) staff fill today."),
    mapping: str = Form(..., max_length=20_000, description=_MAPPING_HELP),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> DeliveryTemplateOut:
    """Keeps the workbook and its mapping, after filling a sample delivery into it to prove the mapping works."""
    data = await read_upload(file, service.MAX_TEMPLATE_BYTES, what="The template")
    return await service.save_template(session, principal.workspace_id, data, file.filename or "template.xlsx", mapping)


@router.get("/template", response_model=DeliveryTemplateOut)
async def get_template(
    workspace: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> DeliveryTemplateOut:
    return await service.template_info(session, principal.workspace_id)


@router.get("/template.xlsx", response_class=Response)
async def download_template(
    workspace: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> Response:
    name, data = await service.template_file(session, principal.workspace_id)
    return Response(data, media_type=_XLSX, headers=_attachment(name))


@router.delete("/template", status_code=204, response_class=Response)
async def delete_template(
    workspace: str, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> Response:
    await service.delete_template(session, principal.workspace_id)
    return Response(status_code=204)


@router.get("/workbook.xlsx", response_class=Response)
async def download_list(
    workspace: str,
    date_from: date = Query(..., description="First delivery day (YYYY-MM-DD)."),
    date_to: date = Query(..., description=f"Last delivery day; at most {service.MAX_RANGE_DAYS} days on."),
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Response:
    """Every delivery order of the range, a sheet per delivery day, in the workspace's template or the plain one."""
    name, data, listed = await service.delivery_list(session, principal.workspace_id, date_from, date_to)
    return Response(data, media_type=_XLSX, headers=_attachment(name, **{"x-opsdesk-deliveries": str(listed)}))
