"""Catalog API: products and outlets (list, get, create, update, delete) and their Excel/CSV import."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, Header, Query, Response, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.deps import get_ctx, get_session, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.core.context import AppContext
from opsdesk.core.errors import PayloadTooLarge
from opsdesk.core.idempotency import run_idempotent
from opsdesk.orders import catalog_service, importer
from opsdesk.orders.schemas import (
    ImportReport,
    OutletIn,
    OutletOut,
    OutletUpdate,
    ProductIn,
    ProductOut,
    ProductUpdate,
)

PREFIX = "/api/v1/workspaces/{workspace}/catalog"
can_read = require_in_workspace(Permission.read)
can_write = require_in_workspace(Permission.write)
session_dep = Depends(get_session, scope="function")
limit_query = Query(50, ge=1, le=500)
offset_query = Query(0, ge=0, le=1_000_000)

router = APIRouter(prefix=PREFIX, tags=["catalog"])


def product_out(row: object) -> ProductOut:
    return ProductOut.model_validate(row, from_attributes=True)


def outlet_out(row: object) -> OutletOut:
    return OutletOut.model_validate(row, from_attributes=True)


async def _upload(ctx: AppContext, upload: UploadFile) -> tuple[bytes, str]:
    limit = ctx.settings.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is larger than the upload limit of {limit:,} bytes.", code="file_too_large")
    return data, upload.filename or "upload.csv"


# ---------------------------------------------------------------------------------------------- products


@router.get("/products", response_model=Page[ProductOut])
async def list_products(
    workspace: str,
    limit: int = limit_query,
    offset: int = offset_query,
    q: str | None = Query(default=None, max_length=200),
    category: str | None = Query(default=None, max_length=64),
    active: bool | None = None,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[ProductOut]:
    rows, total = await catalog_service.list_products(
        session, principal.workspace_id, limit=limit, offset=offset, q=q, category=category, active=active
    )
    return Page(items=[product_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post("/products", response_model=ProductOut, status_code=201)
async def create_product(
    workspace: str,
    body: ProductIn,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> ProductOut:
    async def create() -> ProductOut:
        return product_out(await catalog_service.create_product(session, principal.workspace_id, body))

    result: ProductOut = await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route="catalog/products",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
    )
    return result


@router.post("/products/import", response_model=ImportReport)
async def import_products(
    workspace: str,
    file: UploadFile = File(..., description="An .xlsx workbook (first sheet) or a CSV file with a header row."),
    on_error: Literal["reject", "skip"] = "reject",
    dry_run: bool = False,
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = session_dep,
) -> ImportReport:
    """Creates or updates products by SKU; reports every problem as (row, column, problem)."""
    data, name = await _upload(ctx, file)
    return await importer.import_catalog(
        session, principal.workspace_id, "products", data, name, on_error=on_error, dry_run=dry_run
    )


@router.get("/products/{sku}", response_model=ProductOut)
async def get_product(
    workspace: str, sku: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> ProductOut:
    return product_out(await catalog_service.get_product(session, principal.workspace_id, sku))


@router.patch("/products/{sku}", response_model=ProductOut)
async def update_product(
    workspace: str,
    sku: str,
    body: ProductUpdate,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> ProductOut:
    return product_out(await catalog_service.update_product(session, principal.workspace_id, sku, body))


@router.delete("/products/{sku}", status_code=204, response_class=Response)
async def delete_product(
    workspace: str, sku: str, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> Response:
    await catalog_service.delete_product(session, principal.workspace_id, sku)
    return Response(status_code=204)


# ----------------------------------------------------------------------------------------------- outlets


@router.get("/outlets", response_model=Page[OutletOut])
async def list_outlets(
    workspace: str,
    limit: int = limit_query,
    offset: int = offset_query,
    q: str | None = Query(default=None, max_length=200),
    active: bool | None = None,
    principal: Principal = Depends(can_read),
    session: AsyncSession = session_dep,
) -> Page[OutletOut]:
    rows, total = await catalog_service.list_outlets(
        session, principal.workspace_id, limit=limit, offset=offset, q=q, active=active
    )
    return Page(items=[outlet_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post("/outlets", response_model=OutletOut, status_code=201)
async def create_outlet(
    workspace: str,
    body: OutletIn,
    idempotency_key: str | None = Header(default=None, max_length=200),
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> OutletOut:
    async def create() -> OutletOut:
        return outlet_out(await catalog_service.create_outlet(session, principal.workspace_id, body))

    result: OutletOut = await run_idempotent(
        session,
        workspace_id=principal.workspace_id,
        route="catalog/outlets",
        key=idempotency_key,
        request=body.model_dump(mode="json"),
        create=create,
    )
    return result


@router.post("/outlets/import", response_model=ImportReport)
async def import_outlets(
    workspace: str,
    file: UploadFile = File(..., description="An .xlsx workbook (first sheet) or a CSV file with a header row."),
    on_error: Literal["reject", "skip"] = "reject",
    dry_run: bool = False,
    principal: Principal = Depends(can_write),
    ctx: AppContext = Depends(get_ctx),
    session: AsyncSession = session_dep,
) -> ImportReport:
    """Creates or updates outlets by code; reports every problem as (row, column, problem)."""
    data, name = await _upload(ctx, file)
    return await importer.import_catalog(
        session, principal.workspace_id, "outlets", data, name, on_error=on_error, dry_run=dry_run
    )


@router.get("/outlets/{code}", response_model=OutletOut)
async def get_outlet(
    workspace: str, code: str, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
) -> OutletOut:
    return outlet_out(await catalog_service.get_outlet(session, principal.workspace_id, code))


@router.patch("/outlets/{code}", response_model=OutletOut)
async def update_outlet(
    workspace: str,
    code: str,
    body: OutletUpdate,
    principal: Principal = Depends(can_write),
    session: AsyncSession = session_dep,
) -> OutletOut:
    return outlet_out(await catalog_service.update_outlet(session, principal.workspace_id, code, body))


@router.delete("/outlets/{code}", status_code=204, response_class=Response)
async def delete_outlet(
    workspace: str, code: str, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
) -> Response:
    await catalog_service.delete_outlet(session, principal.workspace_id, code)
    return Response(status_code=204)
