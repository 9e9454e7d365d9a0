"""Catalog API: products, outlets and derived-item rules (list, get, create, update, delete) and their Excel/CSV
import."""

# No `from __future__ import annotations` here: the endpoints `_add_routes` builds are annotated with one table's
# schemas and key, local variables that FastAPI could not resolve from annotations kept as strings.

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from fastapi import APIRouter, Depends, File, Header, Path, Query, Response, UploadFile
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import Paging, get_ctx, get_session, paging_up_to, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.auth.schemas import Page
from opsdesk.auth.service import Principal
from opsdesk.core.uploads import read_upload
from opsdesk.db.idempotency import run_idempotent
from opsdesk.orders.catalog import importer
from opsdesk.orders.catalog.schemas import (
    DerivedRuleIn,
    DerivedRuleOut,
    DerivedRuleUpdate,
    ImportReport,
    OutletIn,
    OutletOut,
    OutletUpdate,
    ProductIn,
    ProductOut,
    ProductUpdate,
)
from opsdesk.orders.catalog.service import OUTLETS, PRODUCTS, RULES, CatalogQuery, CatalogTable

PREFIX = "/api/v1/workspaces/{workspace}/catalog"
can_read = require_in_workspace(Permission.read)
can_write = require_in_workspace(Permission.write)
session_dep = Depends(get_session, scope="function")
catalog_paging = paging_up_to(500)  # the catalog's documented largest page (a whole price list at once)
q_query = Query(default=None, max_length=200)

router = APIRouter(prefix=PREFIX, tags=["catalog"])


@dataclass(frozen=True, slots=True)
class _CatalogApi:
    """One catalog table's routes: their paths (``/<plural>``, ``/<plural>/{<table.key>}``), schemas and service."""

    plural: importer.ImportKind
    table: CatalogTable[Any]
    new: type[BaseModel]
    change: type[BaseModel]
    out: type[BaseModel]
    page: type[Page[Any]]
    query: Callable[..., CatalogQuery]  # the list route's query parameters, as a dependency


async def _upload(ctx: AppContext, upload: UploadFile) -> tuple[bytes, str]:
    return await read_upload(upload, ctx.settings.max_upload_bytes), upload.filename or "upload.csv"


def _add_routes(api: _CatalogApi, *, import_help: str) -> None:
    """Adds the list, create, import, get, update and delete routes of one catalog table, in that order."""
    out, table = api.out, api.table
    if TYPE_CHECKING:  # mypy sees plain types; FastAPI sees the table's own schemas and path parameter
        New: TypeAlias = BaseModel
        Change: TypeAlias = BaseModel
        Key: TypeAlias = str
    else:
        New, Change, Key = api.new, api.change, Annotated[str, Path(alias=table.key)]
    rows, one, singular = f"/{api.plural}", f"/{api.plural}/{{{table.key}}}", table.noun
    idempotency_route = f"catalog/{api.plural}"

    def to_out(row: object) -> BaseModel:
        return out.model_validate(row, from_attributes=True)

    @router.get(rows, response_model=api.page, name=f"list_{api.plural}")
    async def list_rows(
        workspace: str,
        query: CatalogQuery = Depends(api.query),
        asked: Paging = Depends(catalog_paging),  # the one the query was built with (dependencies run once)
        principal: Principal = Depends(can_read),
        session: AsyncSession = session_dep,
    ) -> Page[BaseModel]:
        found, total = await table.page(session, principal.workspace_id, query)
        return asked.page([to_out(row) for row in found], total)

    @router.post(rows, response_model=out, status_code=201, name=f"create_{singular}")
    async def create_row(
        workspace: str,
        body: New,
        idempotency_key: str | None = Header(default=None, max_length=200),
        principal: Principal = Depends(can_write),
        session: AsyncSession = session_dep,
    ) -> BaseModel:
        async def create() -> BaseModel:
            return to_out(await table.create(session, principal.workspace_id, body))

        result: BaseModel = await run_idempotent(
            session,
            workspace_id=principal.workspace_id,
            route=idempotency_route,
            key=idempotency_key,
            request=body.model_dump(mode="json"),
            create=create,
        )
        return result

    @router.post(f"{rows}/import", response_model=ImportReport, name=f"import_{api.plural}", description=import_help)
    async def import_rows(
        workspace: str,
        file: UploadFile = File(..., description="An .xlsx workbook (first sheet) or a CSV file with a header row."),
        on_error: Literal["reject", "skip"] = Query(
            "reject", description="reject: write nothing when any row has a problem; skip: write the good rows."
        ),
        dry_run: bool = Query(False, description="Report what each row would do (create, update, …); write nothing."),
        principal: Principal = Depends(can_write),
        ctx: AppContext = Depends(get_ctx),
        session: AsyncSession = session_dep,
    ) -> ImportReport:
        data, name = await _upload(ctx, file)
        return await importer.import_catalog(
            session, principal.workspace_id, api.plural, data, name, on_error=on_error, dry_run=dry_run
        )

    @router.get(one, response_model=out, name=f"get_{singular}")
    async def get_row(
        workspace: str, key: Key, principal: Principal = Depends(can_read), session: AsyncSession = session_dep
    ) -> BaseModel:
        return to_out(await table.get(session, principal.workspace_id, key))

    @router.patch(one, response_model=out, name=f"update_{singular}")
    async def update_row(
        workspace: str,
        key: Key,
        body: Change,
        principal: Principal = Depends(can_write),
        session: AsyncSession = session_dep,
    ) -> BaseModel:
        return to_out(await table.update(session, principal.workspace_id, key, body))

    @router.delete(one, status_code=204, response_class=Response, name=f"delete_{singular}")
    async def delete_row(
        workspace: str, key: Key, principal: Principal = Depends(can_write), session: AsyncSession = session_dep
    ) -> Response:
        await table.delete(session, principal.workspace_id, key)
        return Response(status_code=204)


def _product_query(
    asked: Paging = Depends(catalog_paging),
    q: str | None = q_query,
    category: str | None = Query(default=None, max_length=64),
    active: bool | None = None,
) -> CatalogQuery:
    return CatalogQuery(asked.limit, asked.offset, q, active, equal={"category": category})


def _outlet_query(
    asked: Paging = Depends(catalog_paging), q: str | None = q_query, active: bool | None = None
) -> CatalogQuery:
    return CatalogQuery(asked.limit, asked.offset, q, active)


def _rule_query(asked: Paging = Depends(catalog_paging), q: str | None = q_query) -> CatalogQuery:
    return CatalogQuery(asked.limit, asked.offset, q)


_IMPORT_HELP = (
    "Each row creates the {noun} with its {key} or updates it (empty cells leave a field as it is), so importing "
    "the same file again changes nothing. The report gives every row's action (create, update, unchanged, error), "
    "the totals, every problem as (row, column, problem) and the headers it did not recognise. See "
    "docs/orders-catalog.md.\n\n"
)


def _import_help(kind: importer.ImportKind, noun: str, key: str, extra: str = "") -> str:
    return _IMPORT_HELP.format(noun=noun, key=key) + extra + importer.columns_help(kind)


_add_routes(
    _CatalogApi("products", PRODUCTS, ProductIn, ProductUpdate, ProductOut, Page[ProductOut], _product_query),
    import_help=_import_help("products", "product", "SKU"),
)
_add_routes(
    _CatalogApi("outlets", OUTLETS, OutletIn, OutletUpdate, OutletOut, Page[OutletOut], _outlet_query),
    import_help=_import_help("outlets", "outlet", "code"),
)
_add_routes(
    _CatalogApi("rules", RULES, DerivedRuleIn, DerivedRuleUpdate, DerivedRuleOut, Page[DerivedRuleOut], _rule_query),
    import_help=_import_help(
        "rules",
        "derived-item rule",
        "name",
        "A rule adds a product that comes with others, e.g. one greaseproof liner per premium pizza box, free. "
        "SKUs the catalog lacks are refused, naming them. charged takes yes/no, charged/free.\n\n",
    ),
)
