"""Catalog over the API: products and outlets editable, Excel/CSV import with a validation report, price changes
reaching the next order, and one workspace's catalog invisible to another."""

from __future__ import annotations

import io

import httpx
from openpyxl import Workbook

from opsdesk.auth.roles import Role
from opsdesk.orders.handlers import handle_order_message
from tests.orders.order_helpers import TAMPINES_PHONE, Desk, add_tenant


async def test_products_are_listed_filtered_and_edited(desk: Desk, http: httpx.AsyncClient) -> None:
    headers = desk.tenant.headers(Role.operator)
    page = (await http.get(desk.url("/catalog/products?limit=5"), headers=headers)).json()
    boxes = (await http.get(desk.url("/catalog/products?category=pizza_box&active=true"), headers=headers)).json()

    assert page["total"] == 37 and len(page["items"]) == 5
    assert boxes["total"] == 6 and all(p["sku"].startswith("PB-") for p in boxes["items"])

    new = {"sku": "PB-16R", "name": '16" Regular Pizza Box', "unit": "bundle", "pack_size": 50, "unit_price": "30.00"}
    key = {"Idempotency-Key": "new-16"}
    created = await http.post(desk.url("/catalog/products"), json=new, headers=headers | key)
    replayed = await http.post(desk.url("/catalog/products"), json=new, headers=headers | key)
    clash = await http.post(desk.url("/catalog/products"), json=new, headers=headers)

    assert created.status_code == 201 and replayed.json()["id"] == created.json()["id"]
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "product_exists"

    patched = await http.patch(desk.url("/catalog/products/PB-16R"), json={"stock": 12}, headers=headers)
    in_use = await http.delete(desk.url("/catalog/products/PL-GP"), headers=headers)
    deleted = await http.delete(desk.url("/catalog/products/PB-16R"), headers=headers)
    gone = await http.get(desk.url("/catalog/products/PB-16R"), headers=headers)

    assert patched.json()["stock"] == 12
    assert in_use.status_code == 409 and "liners_with_premium_boxes" in in_use.json()["error"]["message"]
    assert deleted.status_code == 204 and gone.status_code == 404


async def test_bad_catalog_input_is_a_clear_4xx(desk: Desk, http: httpx.AsyncClient) -> None:
    headers = desk.tenant.headers(Role.operator)
    negative = await http.post(
        desk.url("/catalog/products"), json={"sku": "X-1", "name": "X", "unit_price": "-1"}, headers=headers
    )
    bad_phone = await http.post(
        desk.url("/catalog/outlets"), json={"code": "NEW", "name": "New", "phones": ["call me"]}, headers=headers
    )
    bad_day = await http.patch(desk.url("/catalog/outlets/BB-TP"), json={"usual_days": ["Funday"]}, headers=headers)
    viewer = await http.patch(
        desk.url("/catalog/products/PB-10R"), json={"stock": 1}, headers=desk.tenant.headers(Role.viewer)
    )

    assert negative.status_code == 422 and "unit_price" in negative.json()["error"]["message"]
    assert bad_phone.status_code == 422 and "phone" in bad_phone.json()["error"]["message"]
    assert bad_day.status_code == 422 and "weekday" in bad_day.json()["error"]["message"]
    assert viewer.status_code == 403


async def test_a_new_price_is_used_by_the_next_order(desk: Desk, http: httpx.AsyncClient) -> None:
    headers = desk.tenant.headers(Role.operator)
    await http.patch(desk.url("/catalog/products/PB-10R"), json={"unit_price": "30.50"}, headers=headers)

    reply = await handle_order_message(desk.ctx, desk.workspace_id, "p", TAMPINES_PHONE, '10" regular box: 2 bundles')

    assert "@ 30.50 = SGD 61.00" in reply.reply


CSV = (
    "SKU,Product Name,Unit,Pack size,Unit Price,Category,Stock,Aliases\n"
    'PB-10R,10" Regular Pizza Box,bundle,100,29.00,pizza_box,150,10" box;10" pizza box\n'
    "NEW-1,Paper Straw,carton,5000,$12.50,straw,40,straw;paper straws\n"
    "NEW-2,,carton,10,1.00,misc,1,\n"
    "NEW-3,Bad Price,carton,10,abc,misc,1,\n"
    "NEW-1,Paper Straw again,carton,1,1,straw,1,\n"
)


async def test_importing_products_reports_every_problem_and_rejects_by_default(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    headers = desk.tenant.headers(Role.operator)
    files = {"file": ("products.csv", CSV.encode(), "text/csv")}

    rejected = (await http.post(desk.url("/catalog/products/import"), files=files, headers=headers)).json()

    assert rejected["applied"] is False and rejected["created"] == 0
    problems = {(p["row"], p["column"]) for p in rejected["problems"]}
    assert problems == {(4, "Product Name"), (5, "Unit Price"), (6, "SKU")}
    assert (await http.get(desk.url("/catalog/products/NEW-1"), headers=headers)).status_code == 404

    skipped = await http.post(desk.url("/catalog/products/import?on_error=skip"), files=files, headers=headers)
    report = skipped.json()

    assert (report["applied"], report["created"], report["updated"], report["skipped"]) == (True, 1, 1, 3)
    straw = (await http.get(desk.url("/catalog/products/NEW-1"), headers=headers)).json()
    assert straw["unit_price"] == "12.5000" and straw["aliases"] == ["straw", "paper straws"]
    box = (await http.get(desk.url("/catalog/products/PB-10R"), headers=headers)).json()
    assert box["unit_price"] == "29.0000" and box["stock"] == 150


async def test_importing_outlets_from_excel(desk: Desk, http: httpx.AsyncClient) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Outlet Code", "Outlet Name", "Delivery Address", "Phone", "Billing Entity", "Delivery Days"])
    sheet.append(["ZZ-1", "Zesty Zoo Cafe", "1 Zoo Road", "+65 9000 1111, +65 6000 1111", "", "Mon/Thu"])
    sheet.append(["ZZ-2", "Zesty Zoo Kiosk", "2 Zoo Road", "not a phone", "Zesty Pte Ltd", "Someday"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    files = {"file": ("outlets.xlsx", buffer.getvalue(), "application/octet-stream")}

    dry = (await http.post(desk.url("/catalog/outlets/import?dry_run=true&on_error=skip"), files=files,
                           headers=desk.tenant.headers(Role.operator))).json()  # fmt: skip
    report = (await http.post(desk.url("/catalog/outlets/import?on_error=skip"), files=files,
                              headers=desk.tenant.headers(Role.operator))).json()  # fmt: skip

    assert dry["applied"] is False and dry["created"] == 0
    assert {(p["row"], p["column"]) for p in report["problems"]} == {(3, "Phone"), (3, "Delivery Days")}
    assert report["created"] == 1
    outlet = (await http.get(desk.url("/catalog/outlets/ZZ-1"), headers=desk.tenant.headers(Role.viewer))).json()
    assert outlet["phones"] == ["+65 9000 1111", "+65 6000 1111"] and outlet["usual_days"] == ["Mon", "Thu"]

    ordered = await handle_order_message(desk.ctx, desk.workspace_id, "zz", "+65 6000 1111", "liners: 2 packs")
    assert "Zesty Zoo Cafe" in ordered.reply  # the imported phone identifies the outlet at once


async def test_an_unreadable_upload_is_a_400(desk: Desk, http: httpx.AsyncClient) -> None:
    files = {"file": ("products.xlsx", b"PK\x03\x04 not really a workbook", "application/octet-stream")}
    headerless = {"file": ("empty.csv", b"\n\n", "text/csv")}

    broken = await http.post(desk.url("/catalog/products/import"), files=files, headers=desk.tenant.headers())
    empty = await http.post(desk.url("/catalog/products/import"), files=headerless, headers=desk.tenant.headers())

    assert broken.status_code == 400 and broken.json()["error"]["code"] == "bad_spreadsheet"
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_import"


async def test_catalogs_of_two_workspaces_are_separate(desk: Desk, http: httpx.AsyncClient) -> None:
    other = await add_tenant(desk.ctx, "globex")
    await http.patch(desk.url("/catalog/products/PB-10R"), json={"unit_price": "99.00"}, headers=desk.tenant.headers())

    theirs = await http.get(f"/api/v1/workspaces/{other.slug}/catalog/products/PB-10R", headers=other.headers())
    cross = await http.get(desk.url("/catalog/products/PB-10R"), headers=other.headers())

    assert theirs.json()["unit_price"] == "28.0000"
    assert cross.status_code == 403
