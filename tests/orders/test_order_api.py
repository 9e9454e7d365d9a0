"""Orders over the API: list and filter, confirm for the customer, change, cancel, dispatch, documents, retries,
and one workspace never seeing another's orders or documents."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import httpx

from opsdesk.auth.roles import Role
from opsdesk.orders.chat.handlers import OrderReply, handle_order_message
from opsdesk.orders.chat.runtime import open_order_flow
from opsdesk.orders.counters import next_sequence
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE, Desk, add_tenant, counts


async def _draft(desk: Desk, session_id: str = "s1", text: str = FORM_ORDER) -> OrderReply:
    reply = await handle_order_message(desk.ctx, desk.workspace_id, session_id, TAMPINES_PHONE, text)
    assert reply.awaiting == "confirmation", reply.reply
    return reply


async def _post(http: httpx.AsyncClient, desk: Desk, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return await http.post(desk.url(path), json=body or {}, headers=desk.tenant.headers(Role.operator))


async def test_orders_are_listed_filtered_and_read(desk: Desk, http: httpx.AsyncClient) -> None:
    first = await _draft(desk, "s1")
    await _draft(desk, "s2", "Outlet: Bao Bros\nURGENT: 14 inch regular box 2 bundles")
    headers = desk.tenant.headers(Role.viewer)

    everything = (await http.get(desk.url("/orders"), headers=headers)).json()
    urgent = (await http.get(desk.url("/orders?urgent=true"), headers=headers)).json()
    by_outlet = (await http.get(desk.url("/orders?outlet=SR-TM&status=awaiting_confirmation"), headers=headers)).json()
    confirmed = (await http.get(desk.url("/orders?status=confirmed&status=dispatched"), headers=headers)).json()
    by_number = await http.get(desk.url(f"/orders/{first.order_number}"), headers=headers)
    by_id = await http.get(desk.url(f"/orders/{first.order_id}"), headers=headers)
    missing = await http.get(desk.url("/orders/ORD-20990101-00001"), headers=headers)
    bad_filter = await http.get(desk.url("/orders?status=lost"), headers=headers)
    second = (await http.get(desk.url("/orders?limit=1&offset=1"), headers=headers)).json()
    too_many = await http.get(desk.url("/orders?limit=201"), headers=headers)

    assert everything["total"] == 2 and everything["items"][0]["outlet_code"] == "BB-TP"  # newest first
    assert [o["outlet_code"] for o in urgent["items"]] == ["BB-TP"] and urgent["items"][0]["urgent"]
    assert [o["number"] for o in by_outlet["items"]] == [first.order_number]
    assert confirmed["total"] == 0
    assert by_number.json() == by_id.json() and len(by_number.json()["lines"]) == 3
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "order_not_found"
    assert bad_filter.status_code == 422
    assert [o["number"] for o in second["items"]] == [first.order_number]  # the older one, a page of one further
    assert (second["total"], second["limit"], second["offset"]) == (2, 1, 1)
    assert too_many.status_code == 422


async def test_staff_confirm_a_waiting_order_and_the_flow_finishes_it(desk: Desk, http: httpx.AsyncClient) -> None:
    draft = await _draft(desk)

    response = await _post(http, desk, f"/orders/{draft.order_number}/confirm")

    assert response.status_code == 200, response.text
    order = response.json()
    assert order["status"] == "confirmed" and order["invoice"]["status"] == "posted"
    assert order["delivery_order"]["number"].startswith("DO-")
    flow = await open_order_flow(desk.ctx)
    position = await flow.position(desk.workspace_id, "s1")
    assert position.awaiting is None and not position.stalled
    again = await _post(http, desk, f"/orders/{draft.order_number}/confirm")
    assert again.status_code == 200 and await counts(desk.ctx, desk.workspace_id) == (1, 1, 1)


async def test_an_unusual_order_needs_acknowledging_when_staff_confirm_it(desk: Desk, http: httpx.AsyncClient) -> None:
    draft = await _draft(desk, text="Outlet: Slice Republic Tampines\nliners: 250 packs")

    refused = await _post(http, desk, f"/orders/{draft.order_number}/confirm")
    accepted = await _post(http, desk, f"/orders/{draft.order_number}/confirm", {"acknowledge_anomalies": True})

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "anomaly_confirmation_required" and error["details"]["anomalies"][0]["sku"] == "PL-GP"
    assert accepted.status_code == 200 and accepted.json()["status"] == "confirmed"


async def test_changes_reprice_the_order_until_dispatch(desk: Desk, http: httpx.AsyncClient) -> None:
    draft = await _draft(desk)
    change = {
        "lines": [{"sku": "PB-10R", "quantity": 2}, {"sku": "PL-GP", "quantity": 0}, {"sku": "PB-12P", "quantity": 1}]
    }

    changed = (await _post(http, desk, f"/orders/{draft.order_number}/change", change)).json()

    assert [(x["sku"], x["quantity"], x["charged"]) for x in changed["lines"]] == [
        ("PB-10R", 2, True),
        ("PB-12R", 4, True),
        ("PB-12P", 1, True),
        ("PL-GP", 1, False),  # the free liner that comes with the premium box
    ]
    assert changed["subtotal"] == "238.00" and changed["total"] == "257.04" and changed["revision"] == 2
    unknown = await _post(
        http, desk, f"/orders/{draft.order_number}/change", {"lines": [{"sku": "NOPE", "quantity": 1}]}
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_sku"

    done = await handle_order_message(desk.ctx, desk.workspace_id, "s1", TAMPINES_PHONE, "yes")
    assert "SGD 257.04" in done.reply
    dispatched = await _post(http, desk, f"/orders/{draft.order_number}/dispatch")
    late_change = await _post(http, desk, f"/orders/{draft.order_number}/change", change)
    late_cancel = await _post(http, desk, f"/orders/{draft.order_number}/cancel", {"reason": "too late"})
    delivered = await _post(http, desk, f"/orders/{draft.order_number}/deliver")

    assert dispatched.json()["status"] == "dispatched"
    for refused in (late_change, late_cancel):
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "order_dispatched"
        assert "can no longer be" in refused.json()["error"]["message"]
    assert delivered.json()["status"] == "delivered"


async def test_staff_cancel_a_waiting_order_and_its_stock_is_untouched(desk: Desk, http: httpx.AsyncClient) -> None:
    draft = await _draft(desk)

    cancelled = await _post(http, desk, f"/orders/{draft.order_number}/cancel", {"reason": "customer called"})
    after = await handle_order_message(desk.ctx, desk.workspace_id, "s1", TAMPINES_PHONE, "yes")

    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancel_reason"] == "customer called"
    assert after.outcome == "nothing_pending"
    assert await counts(desk.ctx, desk.workspace_id) == (1, 0, 0)


async def test_cancelling_a_confirmed_order_gives_its_stock_back(desk: Desk, http: httpx.AsyncClient) -> None:
    draft = await _draft(desk)
    await handle_order_message(desk.ctx, desk.workspace_id, "s1", TAMPINES_PHONE, "yes")
    headers = desk.tenant.headers(Role.viewer)
    before = (await http.get(desk.url("/catalog/products/PB-10R"), headers=headers)).json()["stock"]

    cancelled = (await _post(http, desk, f"/orders/{draft.order_number}/cancel")).json()

    after = (await http.get(desk.url("/catalog/products/PB-10R"), headers=headers)).json()["stock"]
    assert cancelled["status"] == "cancelled" and after == before + 6


async def test_documents_are_downloadable_only_once_they_exist(desk: Desk, http: httpx.AsyncClient) -> None:
    draft = await _draft(desk)
    headers = desk.tenant.headers(Role.viewer)

    early = await http.get(desk.url(f"/orders/{draft.order_number}/invoice.pdf"), headers=headers)
    await handle_order_message(desk.ctx, desk.workspace_id, "s1", TAMPINES_PHONE, "yes")
    sheet = await http.get(desk.url(f"/orders/{draft.order_number}/delivery-order.xlsx"), headers=headers)
    pdf = await http.get(desk.url(f"/orders/{draft.order_number}/invoice.pdf"), headers=headers)

    assert early.status_code == 404 and early.json()["error"]["code"] == "no_invoice"
    assert sheet.status_code == 200 and "DO-" in sheet.headers["content-disposition"]
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"


async def test_orders_and_documents_of_another_workspace_are_invisible(desk: Desk, http: httpx.AsyncClient) -> None:
    draft = await _draft(desk)
    await handle_order_message(desk.ctx, desk.workspace_id, "s1", TAMPINES_PHONE, "yes")
    other = await add_tenant(desk.ctx, "globex")
    theirs = f"/api/v1/workspaces/{other.slug}/orders"

    listed = (await http.get(theirs, headers=other.headers())).json()
    by_number = await http.get(f"{theirs}/{draft.order_number}", headers=other.headers())
    by_id = await http.get(f"{theirs}/{draft.order_id}", headers=other.headers())
    sheet = await http.get(f"{theirs}/{draft.order_number}/delivery-order.xlsx", headers=other.headers())
    cancel = await http.post(f"{theirs}/{draft.order_id}/cancel", json={}, headers=other.headers())
    cross = await http.get(desk.url(f"/orders/{draft.order_number}"), headers=other.headers())
    same_session = await handle_order_message(desk.ctx, other.workspace_id, "s1", TAMPINES_PHONE, "status?")

    assert listed["total"] == 0
    assert by_number.status_code == by_id.status_code == sheet.status_code == cancel.status_code == 404
    assert cross.status_code == 403
    assert same_session.order_id is None  # the same session id in another workspace is another conversation
    assert await counts(desk.ctx, other.workspace_id) == (0, 0, 0)


async def test_messages_over_the_api_use_the_message_id_once(desk: Desk, http: httpx.AsyncClient) -> None:
    body = {"session_id": "api-1", "sender_phone": TAMPINES_PHONE, "text": FORM_ORDER}
    headers = desk.tenant.headers(Role.service) | {"Idempotency-Key": "k-1"}

    first = (await http.post(desk.url("/orders/messages"), json=body, headers=headers)).json()
    second = (await http.post(desk.url("/orders/messages"), json=body, headers=headers)).json()
    too_long = await http.post(desk.url("/orders/messages"), json=body | {"text": "x" * 20_001}, headers=headers)

    assert first["order_number"] == second["order_number"] and second["duplicate"]
    assert too_long.status_code == 422
    assert await counts(desk.ctx, desk.workspace_id) == (1, 0, 0)


async def test_retry_endpoint_reports_what_it_did(desk: Desk, http: httpx.AsyncClient) -> None:
    report = (await _post(http, desk, "/orders/invoices/retry")).json()

    assert report == {"attempted": 0, "posted": 0, "still_pending": 0, "failed": 0}


async def test_document_numbers_are_unique_under_concurrency(desk: Desk) -> None:
    async def take() -> int:
        async with desk.ctx.db.session() as session:
            return await next_sequence(session, desk.workspace_id, "DO", date(2025, 3, 3))

    numbers = await asyncio.gather(*(take() for _ in range(20)))

    assert sorted(numbers) == list(range(1, 21))
