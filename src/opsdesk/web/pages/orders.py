"""Orders: the order desk's orders with filters, search and pages; one order's lines, totals, delivery and history;
confirm, change and cancel through the services the API calls; its delivery order and invoice; a delivery list."""

from __future__ import annotations

import urllib.parse
from datetime import date, datetime
from typing import Any

from fastapi import Form, Query
from starlette.responses import RedirectResponse, Response

from opsdesk.core.errors import InvalidInput
from opsdesk.orders import billing, profile, repository, service
from opsdesk.orders.catalog.service import OUTLETS, CatalogQuery, parser_cache
from opsdesk.orders.chat import runtime
from opsdesk.orders.delivery import service as delivery_lists
from opsdesk.orders.schemas import OrderOut, OrderStatus
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render
from opsdesk.workspaces.settings.service import workspace_settings

router = page_router()
PAGE_SIZE = 25
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUSES = [status.value for status in OrderStatus]
_EDITABLE = ("draft", "awaiting_confirmation", "confirmed")
_DONE = ("confirmed", "changed", "cancelled")  # what the page may say was just done (never free text from the URL)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _day(raw: str | None, name: str) -> date | None:
    if not raw or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD).", code="invalid_value") from None


def history_of(order: OrderOut) -> list[dict[str, Any]]:
    """The order's status history from its timestamps and documents, oldest first."""
    steps: list[tuple[str, datetime | None, str]] = [
        ("Received", order.created_at, ""),
        ("Confirmed", order.confirmed_at, "anomalies acknowledged" if order.anomalies_acknowledged else ""),
        ("Delivery order issued", order.delivery_order.created_at if order.delivery_order else None,
         order.delivery_order.number if order.delivery_order else ""),
        ("Invoice posted", order.invoice.posted_at if order.invoice else None,
         order.invoice.number if order.invoice else ""),
        ("Dispatched", order.dispatched_at, ""),
        ("Delivered", order.delivered_at, ""),
        ("Cancelled", order.cancelled_at, order.cancel_reason),
    ]  # fmt: skip
    found = [{"step": step, "at": at, "detail": detail} for step, at, detail in steps if at is not None]
    return sorted(found, key=lambda item: item["at"])


def actions_of(order: OrderOut) -> dict[str, bool]:
    """What staff may still do to the order (the service refuses the rest anyway)."""
    return {
        "confirm": order.status in ("draft", "awaiting_confirmation"),
        "change": order.status in _EDITABLE and not (order.invoice and order.invoice.status == "posted"),
        "cancel": order.status in _EDITABLE,
    }


@router.get("/orders")
async def orders_page(
    status: str = Query("", max_length=32),
    outlet: str = Query("", max_length=64),
    date_from: str = Query("", max_length=10),
    date_to: str = Query("", max_length=10),
    q: str = Query("", max_length=200),
    page: int = Query(1, ge=1, le=100_000),
    c: Console = PageConsole,
) -> Response:
    """Newest orders first, filtered by status, outlet, delivery dates and number/outlet text, a page at a time."""
    principal = c.signed_in_principal
    if status and status not in STATUSES:
        raise InvalidInput(f"Unknown status {status!r}.", code="invalid_value")
    since, until = _day(date_from, "From"), _day(date_to, "To")
    async with c.ctx.db.session() as db:
        found, total = await repository.list_orders(
            db, principal.workspace_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
            status=[status] if status else None, outlet=outlet or None,
            delivery_from=since, delivery_to=until, q=q.strip() or None,
        )  # fmt: skip
        orders = await repository.orders_out(db, found)
        outlets, _ = await OUTLETS.page(db, principal.workspace_id, CatalogQuery(limit=500))
        any_order = total > 0 or bool((await repository.list_orders(db, principal.workspace_id, limit=1))[1])
    filters = {"status": status, "outlet": outlet, "date_from": date_from, "date_to": date_to, "q": q}
    pages = max(1, -(-total // PAGE_SIZE))
    query = urllib.parse.urlencode({k: v for k, v in filters.items() if v})
    return render(
        c,
        "orders.html",
        {
            "orders": [order.model_dump(mode="json", exclude={"lines"}) for order in orders],
            "total": total,
            "page": page,
            "pages": pages,
            "query": query,
            "filters": filters,
            "statuses": STATUSES,
            "outlets": [(row.code, row.name) for row in outlets],
            "any_order": any_order,
        },
    )


@router.get("/orders/delivery-list.xlsx")
async def delivery_list(
    date_from: str = Query(..., max_length=10), date_to: str = Query(..., max_length=10), c: Console = PageConsole
) -> Response:
    """Every delivery order of the range in one workbook, a sheet per day (the API's delivery list)."""
    principal = c.signed_in_principal
    since, until = _day(date_from, "From"), _day(date_to, "To")
    if since is None or until is None:
        raise InvalidInput("Give both dates of the delivery list.", code="invalid_value")
    async with c.ctx.db.session() as db:
        name, data, listed = await delivery_lists.delivery_list(db, principal.workspace_id, since, until)
    return Response(data, media_type=XLSX, headers={**_attachment(name), "x-opsdesk-deliveries": str(listed)})


async def _order(c: Console, number: str) -> OrderOut:
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        return await repository.order_out(db, await repository.get_order(db, principal.workspace_id, number))


@router.get("/orders/{number}")
async def order_page(number: str, c: Console = PageConsole) -> Response:
    """One order: lines, totals, delivery, documents, history, and the actions its status still allows."""
    order = await _order(c, number)
    data = {
        "order": order.model_dump(mode="json"),
        "history": history_of(order),
        "actions": actions_of(order),
        "flash": done if (done := c.request.query_params.get("done", "")) in _DONE else "",
    }
    return render(c, "order.html", data)


def _back(number: str, done: str) -> Response:
    return RedirectResponse(f"/orders/{urllib.parse.quote(number)}?done={done}", status_code=303)


@router.post("/orders/{number}/confirm")
async def confirm(number: str, acknowledge_anomalies: bool = Form(False), c: Console = PageConsole) -> Response:
    """Confirms for the customer (POST …/orders/{order}/confirm); its documents are issued at once."""
    principal = c.signed_in_principal
    await runtime.confirm_by_staff(c.ctx, principal.workspace_id, number, acknowledge_anomalies=acknowledge_anomalies)
    return _back(number, "confirmed")


@router.post("/orders/{number}/cancel")
async def cancel(number: str, reason: str = Form("", max_length=500), c: Console = PageConsole) -> Response:
    """Cancels an order not yet dispatched (POST …/orders/{order}/cancel)."""
    principal = c.signed_in_principal
    await runtime.cancel_by_staff(c.ctx, principal.workspace_id, number, reason=reason.replace("\x00", ""))
    return _back(number, "cancelled")


def _quantity(raw: str, sku: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidInput(f"The quantity of {sku} must be a whole number.", code="invalid_value") from None
    if not 0 <= value <= 1_000_000:
        raise InvalidInput(f"The quantity of {sku} must be between 0 and 1,000,000.", code="invalid_value")
    return value


@router.post("/orders/{number}/change")
async def change(
    number: str,
    sku: list[str] = Form(..., max_length=100),
    quantity: list[str] = Form(..., max_length=100),
    acknowledge_anomalies: bool = Form(False),
    c: Console = PageConsole,
) -> Response:
    """Sets line quantities, 0 removing a line (POST …/orders/{order}/change)."""
    principal = c.signed_in_principal
    if len(sku) != len(quantity):
        raise InvalidInput("Every line needs a quantity.", code="invalid_value")
    changes = [(code.strip(), _quantity(raw, code)) for code, raw in zip(sku, quantity, strict=True) if raw.strip()]
    if not changes:
        raise InvalidInput("Give at least one quantity.", code="no_changes")
    async with c.ctx.db.session() as db:
        parser = await parser_cache(c.ctx.extras).parser(db, principal.workspace_id)
        await service.change_order(
            db, principal.workspace_id, number, changes, catalog=parser.catalog,
            policy=await profile.policy_for(c.ctx, principal.workspace_id),
            acknowledge_anomalies=acknowledge_anomalies,
        )  # fmt: skip
    return _back(number, "changed")


@router.get("/orders/{number}/delivery-order.xlsx")
async def delivery_order(number: str, c: Console = PageConsole) -> Response:
    """The delivery order workbook (the API's document)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        found = await repository.get_order(db, principal.workspace_id, number)
        issuer = (await workspace_settings(c.ctx, principal.workspace_id)).seller.name
        name, data = billing.delivery_order_xlsx(await billing.delivery_order_of(db, found), issuer)
    return Response(data, media_type=XLSX, headers=_attachment(name))


@router.get("/orders/{number}/invoice.pdf")
async def invoice(number: str, c: Console = PageConsole) -> Response:
    """The invoice PDF (the API's document)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        found = await repository.get_order(db, principal.workspace_id, number)
        seller = await profile.seller_for(c.ctx, db, principal.workspace_id)
        name, data = billing.invoice_pdf(await billing.invoice_of(db, found), seller)
    return Response(data, media_type="application/pdf", headers=_attachment(name))
