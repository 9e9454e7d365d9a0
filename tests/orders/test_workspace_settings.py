"""A workspace's business settings: read and changed over the API, and used by the next order, invoice and chat."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PIL import Image
from pypdf import PdfReader

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.knowledge import service as kb_service
from opsdesk.knowledge.ingest.schemas import ApiDocument, ApiIngest
from opsdesk.knowledge.ingest.service import api_files, queue_files
from opsdesk.knowledge.ingest.worker import run_pending_jobs
from opsdesk.knowledge.schemas import KnowledgeBaseIn
from opsdesk.orders.chat.solution import register_order_desk
from tests.conftest import Tenant
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE, Desk, add_tenant

SETTINGS = "/api/v1/workspaces/current/settings"


def _url(tenant: Tenant, path: str) -> str:
    return f"/api/v1/workspaces/{tenant.slug}{path}"


async def _patch(http: httpx.AsyncClient, tenant: Tenant, change: dict[str, Any]) -> dict[str, Any]:
    response = await http.patch(SETTINGS, json=change, headers=tenant.headers())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _say(http: httpx.AsyncClient, tenant: Tenant, session: str, text: str) -> dict[str, Any]:
    body = {"session_id": session, "text": text, "sender_phone": TAMPINES_PHONE}
    response = await http.post(_url(tenant, "/orders/messages"), json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


async def _order(http: httpx.AsyncClient, tenant: Tenant, session: str, text: str = FORM_ORDER) -> dict[str, Any]:
    """Places and confirms an order; returns it as the API shows it."""
    asked = await _say(http, tenant, session, text)
    assert asked["awaiting"] == "confirmation", asked["reply"]
    done = await _say(http, tenant, session, "YES")
    assert done["order_status"] == "confirmed", done["reply"]
    response = await http.get(_url(tenant, f"/orders/{done['order_number']}"), headers=tenant.headers())
    order: dict[str, Any] = response.json()
    return order


async def _invoice_text(http: httpx.AsyncClient, tenant: Tenant, number: str) -> str:
    response = await http.get(_url(tenant, f"/orders/{number}/invoice.pdf"), headers=tenant.headers(Role.viewer))
    assert response.status_code == 200, response.text
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def _png(size: tuple[int, int] = (120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------ the API


async def test_a_workspace_that_changed_nothing_runs_on_the_environment_defaults(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    env = desk.ctx.settings
    response = await http.get(SETTINGS, headers=desk.tenant.headers(Role.viewer))
    by_slug = await http.get(_url(desk.tenant, "/settings"), headers=desk.tenant.headers(Role.viewer))

    assert response.status_code == 200 and by_slug.json() == response.json()
    body = response.json()
    settings = body["settings"]
    assert body["version"] == 0 and body["changed"] == [] and body["logo"] is None
    assert settings["seller"]["name"] == env.order_seller_name
    assert settings["seller"]["address_lines"] == env.order_seller_address
    assert settings["currency"] == env.order_currency and settings["payment_terms_days"] == env.order_payment_terms_days
    assert settings["tax"] == {"name": env.order_tax_label, "rate": str(env.order_tax_rate)}
    assert settings["delivery"]["slots"] == env.order_delivery_slots
    assert settings["delivery"]["weekdays"] == env.order_delivery_weekdays
    assert (
        settings["delivery"]["time_zone"] == env.order_timezone
        and settings["delivery"]["same_day_cutoff"] == "11:00:00"
    )
    assert settings["anomalies"]["line_ceiling_units"] == env.order_anomaly_ceiling_units
    assert settings["urgency"] == {"to_inbox": False, "escalation_level": "staff"}
    assert settings["escalation"]["manager"] == {"money_limit": "50000", "sla_minutes": 240}
    assert settings["escalation"]["director"]["money_limit"] is None
    assert settings["knowledge_bases"] == ["order-desk"]


async def test_only_admins_change_settings(desk: Desk, http: httpx.AsyncClient) -> None:
    change = {"seller": {"name": "Someone Else Ltd"}}
    for role in (Role.viewer, Role.operator, Role.service):
        response = await http.patch(SETTINGS, json=change, headers=desk.tenant.headers(role))
        assert response.status_code == 403, role
    logo = await http.put(
        f"{SETTINGS}/logo", files={"file": ("logo.png", _png(), "image/png")}, headers=desk.tenant.headers(Role.viewer)
    )
    assert logo.status_code == 403


async def test_a_change_is_partial_and_null_returns_a_setting_to_its_default(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    changed = await _patch(
        http, desk.tenant, {"seller": {"email": "ar@acme.example"}, "delivery": {"weekdays": ["monday", "Wed"]}}
    )
    assert changed["version"] == 1
    assert changed["settings"]["seller"]["email"] == "ar@acme.example"
    assert changed["settings"]["seller"]["name"] == desk.ctx.settings.order_seller_name  # untouched
    assert changed["settings"]["delivery"]["weekdays"] == ["Mon", "Wed"]
    assert sorted(changed["changed"]) == ["delivery.weekdays", "seller.email"]

    reset = await _patch(http, desk.tenant, {"delivery": {"weekdays": None}})
    assert reset["changed"] == ["seller.email"] and reset["version"] == 2
    assert reset["settings"]["delivery"]["weekdays"] == desk.ctx.settings.order_delivery_weekdays


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tax": {"rate": 8}}, "'tax.rate': the tax rate is a fraction"),
        ({"tax": {"rate": "-0.1"}}, "'tax.rate'"),
        ({"delivery": {"slots": ["9-12"]}}, 'use "HH:MM-HH:MM"'),
        ({"delivery": {"slots": ["14:00-09:00"]}}, "ends before it starts"),
        ({"delivery": {"weekdays": ["Funday"]}}, "'Funday' is not a weekday"),
        ({"delivery": {"weekdays": []}}, "'delivery.weekdays'"),
        ({"delivery": {"time_zone": "Mars/Olympus"}}, "'Mars/Olympus' is not a time zone name"),
        ({"currency": "XYZ"}, "'XYZ' is not an ISO 4217 currency code"),
        ({"seller": {"name": ""}}, "'seller.name'"),
        ({"seller": {"email": "not-an-email"}}, "is not an email address"),
        ({"anomalies": {"item_ceilings": {"PB-10R": 0}}}, "'anomalies.item_ceilings.PB-10R'"),
        ({"urgency": {"escalation_level": "ceo"}}, "'ceo' is not an escalation level"),
        ({"escalation": {"staff": {"money_limit": "10"}}}, "money limits rise with the level"),
        ({"knowledge_bases": ["order-desk", "nope"]}, "no knowledge base 'order-desk', 'nope' in this workspace"),
        ({"colour": "blue"}, "'colour'"),
    ],
)
async def test_bad_values_are_refused_with_the_reason(
    desk: Desk, http: httpx.AsyncClient, change: dict[str, Any], expected: str
) -> None:
    response = await http.patch(SETTINGS, json=change, headers=desk.tenant.headers())

    assert response.status_code == 422, response.text
    assert expected in response.json()["error"]["message"]
    assert (await http.get(SETTINGS, headers=desk.tenant.headers())).json()["version"] == 0  # nothing was stored


async def test_a_logo_is_checked_stored_printed_and_removed(desk: Desk, http: httpx.AsyncClient) -> None:
    headers = desk.tenant.headers()
    not_an_image = await http.put(
        f"{SETTINGS}/logo", files={"file": ("logo.png", b"GIF89a....", "image/png")}, headers=headers
    )
    too_big = await http.put(
        f"{SETTINGS}/logo",
        files={"file": ("logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 600_000, "image/png")},
        headers=headers,
    )
    broken = await http.put(
        f"{SETTINGS}/logo",
        files={"file": ("logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")},
        headers=headers,
    )
    assert not_an_image.status_code == 422 and "PNG or JPEG" in not_an_image.json()["error"]["message"]
    assert too_big.status_code == 413
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "unreadable_logo"

    stored = await http.put(
        f"{SETTINGS}/logo", files={"file": ("x.bin", _png(), "application/octet-stream")}, headers=headers
    )
    assert stored.status_code == 200 and stored.json()["logo"]["content_type"] == "image/png"
    assert (await http.get(f"{SETTINGS}/logo", headers=desk.tenant.headers(Role.viewer))).content == _png()

    order = await _order(http, desk.tenant, "logo")
    pdf = await http.get(_url(desk.tenant, f"/orders/{order['number']}/invoice.pdf"), headers=headers)
    assert len(PdfReader(io.BytesIO(pdf.content)).pages[0].images) == 1

    assert (await http.delete(f"{SETTINGS}/logo", headers=headers)).status_code == 204
    assert (await http.get(f"{SETTINGS}/logo", headers=headers)).status_code == 404
    pdf = await http.get(_url(desk.tenant, f"/orders/{order['number']}/invoice.pdf"), headers=headers)
    assert len(PdfReader(io.BytesIO(pdf.content)).pages[0].images) == 0


# ------------------------------------------------------------------------------------------------ in use


async def test_each_workspace_prints_its_own_seller_and_tax_on_its_invoices(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    beta = await add_tenant(desk.ctx, "beta")
    await _patch(
        http,
        desk.tenant,
        {"seller": {"name": "Acme Packaging GmbH", "address_lines": ["Hafenstrasse 1", "20457 Hamburg"]},
         "tax": {"name": "VAT", "rate": "0.19"}, "currency": "EUR"},
    )  # fmt: skip
    await _patch(http, beta, {"seller": {"name": "Beta Boxes Pte Ltd", "tax_registration": "M2-7654321-0"}})

    acme_order = await _order(http, desk.tenant, "acme-1")
    beta_order = await _order(http, beta, "beta-1")
    acme = await _invoice_text(http, desk.tenant, acme_order["number"])
    beta_text = await _invoice_text(http, beta, beta_order["number"])

    assert "Acme Packaging GmbH" in acme and "Hafenstrasse 1" in acme and "VAT 19%" in acme and "EUR" in acme
    assert "Lion City" not in acme and "Beta Boxes" not in acme
    assert "Beta Boxes Pte Ltd" in beta_text and "GST 8%" in beta_text and "GST reg. no.: M2-7654321-0" in beta_text
    assert "Acme" not in beta_text
    assert acme_order["currency"] == "EUR" and Decimal(acme_order["tax"]) == Decimal("61.47")  # 323.50 x 19%
    delivery = await http.get(
        _url(desk.tenant, f"/orders/{acme_order['number']}/delivery-order.xlsx"), headers=desk.tenant.headers()
    )
    assert b"Acme Packaging GmbH" in _xlsx_strings(delivery.content)


def _xlsx_strings(data: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist() if name.endswith(".xml"))


async def test_a_changed_tax_rate_applies_to_the_next_order(desk: Desk, http: httpx.AsyncClient) -> None:
    before = await _order(http, desk.tenant, "tax-1")
    await _patch(http, desk.tenant, {"tax": {"rate": "0.09"}})
    after = await _order(http, desk.tenant, "tax-2")

    assert Decimal(before["tax"]) == Decimal("25.88") and Decimal(before["tax_rate"]) == Decimal("0.08")
    assert Decimal(after["tax_rate"]) == Decimal("0.09") and Decimal(after["tax"]) == Decimal("29.12")
    assert "GST 9%" in await _invoice_text(http, desk.tenant, after["number"])


# ------------------------------------------------------------------------------- unusual orders (issue 15.5)


async def test_a_new_outlets_first_order_far_above_the_usual_maximum_needs_confirm(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    await _patch(http, desk.tenant, {"anomalies": {"item_ceilings": {"PB-10R": 20}}})

    asked = await _say(http, desk.tenant, "big", 'Outlet: Slice Republic Tampines\n10" Regular Box: 40 bundles')
    assert (
        'This order is unusual: 40 bundles of 10" Regular Pizza Box is above the usual maximum of 20' in asked["reply"]
    )
    assert "Reply CONFIRM to place it" in asked["reply"] and "YES is not enough" in asked["reply"]

    yes = await _say(http, desk.tenant, "big", "YES")
    assert yes["order_status"] == "awaiting_confirmation" and "CONFIRM" in yes["reply"]

    confirmed = await _say(http, desk.tenant, "big", "CONFIRM")
    assert confirmed["order_status"] == "confirmed"


async def test_a_usual_first_order_is_confirmed_with_yes(desk: Desk, http: httpx.AsyncClient) -> None:
    await _patch(http, desk.tenant, {"anomalies": {"item_ceilings": {"PB-10R": 20}}})

    asked = await _say(http, desk.tenant, "usual", 'Outlet: Slice Republic Tampines\n10" Regular Box: 4 bundles')
    assert "Reply YES to confirm" in asked["reply"]
    assert (await _say(http, desk.tenant, "usual", "yes"))["order_status"] == "confirmed"


# ------------------------------------------------------------------------------------ urgent orders (15.6)


async def _inbox(http: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    response = await http.get(_url(tenant, "/inbox/escalations"), headers=tenant.headers())
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _chat(http: httpx.AsyncClient, tenant: Tenant, text: str) -> dict[str, Any]:
    body = {"text": text, "sender": TAMPINES_PHONE, "solution": "orders"}
    response = await http.post(_url(tenant, "/conversations/messages"), json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


URGENT = "URGENT!! Outlet: Slice Republic Tampines\n12 inch box 3 bdl"


async def test_an_urgent_order_goes_to_the_inbox_at_once_when_the_workspace_wants_it(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    register_order_desk()
    await _patch(http, desk.tenant, {"urgency": {"to_inbox": True, "escalation_level": "manager"}})

    asked = await _chat(http, desk.tenant, URGENT)
    assert "URGENT" in asked["reply"]
    (case,) = await _inbox(http, desk.tenant)
    assert case["level"] == "manager" and case["reason"].startswith(f"Urgent order {asked['metadata']['order_number']}")
    assert case["session_id"] == asked["session_id"]

    await _chat(http, desk.tenant, "YES")
    assert len(await _inbox(http, desk.tenant)) == 1  # once per order


async def test_an_urgent_order_stays_out_of_the_inbox_by_default(desk: Desk, http: httpx.AsyncClient) -> None:
    register_order_desk()

    await _chat(http, desk.tenant, URGENT)
    done = await _chat(http, desk.tenant, "YES")

    assert done["metadata"]["order_outcome"] == "completed"
    assert await _inbox(http, desk.tenant) == []


# ------------------------------------------------------------------------------------- knowledge bases


async def _knowledge_base(ctx: AppContext, tenant: Tenant, name: str, text: str) -> None:
    async with ctx.db.session() as session:
        kb = await kb_service.create_kb(session, tenant.workspace_id, KnowledgeBaseIn(name=name))
        request = ApiIngest(kind="api", documents=[ApiDocument(key=f"{name}.md", text=text)])
        await queue_files(session, kb, api_files(request))
    await run_pending_jobs(ctx)


async def test_the_chat_answers_from_the_knowledge_bases_the_workspace_names(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    register_order_desk()
    await _knowledge_base(desk.ctx, desk.tenant, "order-desk", NET_30)
    await _knowledge_base(desk.ctx, desk.tenant, "harbour-terms", NET_14)

    before = await _chat(http, desk.tenant, "What are your payment terms?")
    await _patch(http, desk.tenant, {"knowledge_bases": ["harbour-terms"]})
    after = await _chat(http, desk.tenant, "What are your payment terms?")

    assert [c["source_key"] for c in before["citations"]] == ["order-desk.md"], before
    assert [c["source_key"] for c in after["citations"]] == ["harbour-terms.md"], after
    assert "Net 14" not in before["reply"] and "Net 30" not in after["reply"]


NET_30 = (
    "Our payment terms are Net 30: invoices are payable within 30 days of the invoice date. We accept PayNow, bank "
    "transfer and cheques."
)
NET_14 = "Our payment terms are Net 14: invoices are payable within 14 days of delivery. We accept bank transfer only."
