"""Catalog: the order desk's products and outlets, searchable, and their CSV/Excel import with a dry run whose
validation report says what every row would do before anything is written."""

from __future__ import annotations

import urllib.parse
from typing import Any, Literal

from fastapi import File, Form, Query, UploadFile
from starlette.responses import Response

from opsdesk.core.uploads import read_upload
from opsdesk.orders.catalog import importer
from opsdesk.orders.catalog.schemas import ImportReport
from opsdesk.orders.catalog.service import OUTLETS, PRODUCTS, CatalogQuery
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render

router = page_router()
PAGE_SIZE = 50
Kind = Literal["products", "outlets"]


def _product(row: Any) -> dict[str, Any]:
    return {
        "key": row.sku,
        "name": row.name,
        "unit": f"{row.unit} of {row.pack_size}" if row.pack_size > 1 else row.unit,
        "price": row.unit_price,
        "stock": row.stock,
        "active": row.active,
    }


def _outlet(row: Any) -> dict[str, Any]:
    return {
        "key": row.code,
        "name": row.name,
        "address": row.address,
        "phones": ", ".join(row.phones or []),
        "days": ", ".join(row.usual_days or []),
        "active": row.active,
    }


async def _page(c: Console, kind: Kind, q: str, page: int, report: ImportReport | None) -> dict[str, Any]:
    principal = c.signed_in_principal
    table = PRODUCTS if kind == "products" else OUTLETS
    query = CatalogQuery(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, q=q.strip() or None)
    async with c.ctx.db.session() as db:
        rows, total = await table.page(db, principal.workspace_id, query)
    shape = _product if kind == "products" else _outlet
    return {
        "kind": kind,
        "q": q,
        "rows": [shape(row) for row in rows],
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "query": urllib.parse.urlencode({"kind": kind, **({"q": q} if q else {})}),
        "columns": importer.columns_help(kind).replace("`", "").splitlines(),
        "report": report.model_dump(mode="json") if report else None,
    }


@router.get("/catalog")
async def catalog_page(
    kind: Kind = Query("products"),
    q: str = Query("", max_length=200),
    page: int = Query(1, ge=1, le=100_000),
    c: Console = PageConsole,
) -> Response:
    """Products or outlets in key order, searchable by key or name, with the import form for those who may write."""
    return render(c, "catalog.html", await _page(c, kind, q, page, None))


@router.post("/catalog/import")
async def import_rows(
    kind: Kind = Form(...),
    file: UploadFile = File(...),
    dry_run: bool = Form(False),
    on_error: Literal["reject", "skip"] = Form("reject"),
    c: Console = PageConsole,
) -> Response:
    """The API's catalog import (POST …/catalog/{kind}/import): every row's action and problem, written unless a
    dry run or (with on_error=reject) any row has a problem."""
    principal = c.signed_in_principal
    data = await read_upload(file, c.ctx.settings.max_upload_bytes)
    async with c.ctx.db.session() as db:
        report = await importer.import_catalog(
            db, principal.workspace_id, kind, data, file.filename or "upload.csv", on_error=on_error, dry_run=dry_run
        )
    return render(c, "catalog.html", await _page(c, kind, "", 1, report))
