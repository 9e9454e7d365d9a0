"""Catalog over the API: products, outlets and derived-item rules editable, Excel/CSV import with a row-by-row
report (dry run too), price and rule changes reaching the next order, and one workspace's catalog invisible to
another."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import httpx
from openpyxl import Workbook

from opsdesk.auth.roles import Role
from opsdesk.orders.chat.handlers import handle_order_message
from tests.orders.order_helpers import TAMPINES_PHONE, Desk, add_tenant


async def test_products_are_listed_filtered_and_edited(desk: Desk, http: httpx.AsyncClient) -> None:
    headers = desk.tenant.headers(Role.operator)
    page = (await http.get(desk.url("/catalog/products?limit=5"), headers=headers)).json()
    boxes = (await http.get(desk.url("/catalog/products?category=pizza_box&active=true"), headers=headers)).json()
    largest = (await http.get(desk.url("/catalog/products?limit=500&offset=35"), headers=headers)).json()
    too_many = await http.get(desk.url("/catalog/products?limit=501"), headers=headers)

    assert page["total"] == 37 and len(page["items"]) == 5
    assert boxes["total"] == 6 and all(p["sku"].startswith("PB-") for p in boxes["items"])
    assert len(largest["items"]) == 2 and (largest["total"], largest["limit"], largest["offset"]) == (37, 500, 35)
    assert too_many.status_code == 422  # the catalog's documented largest page is 500, not the usual 200

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

    assert dry["applied"] is False and dry["created"] == 1  # what it would do
    assert [(a["key"], a["action"]) for a in dry["row_actions"]] == [("ZZ-1", "create"), ("ZZ-2", "error")]
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


PRODUCTS_CSV = (
    "SKU,Product Name,Unit Price,Colour\n"
    'PB-10R,10" Regular Pizza Box,29.00,brown\n'
    'PB-12R,12" Regular Pizza Box,34.00,brown\n'
    "NEW-9,Paper Straw,12.50,white\n"
    "NEW-8,,1.00,\n"
)


async def _import(http: httpx.AsyncClient, desk: Desk, kind: str, csv: str, query: str = "") -> dict[str, Any]:
    files = {"file": (f"{kind}.csv", csv.encode(), "text/csv")}
    response = await http.post(
        desk.url(f"/catalog/{kind}/import{query}"), files=files, headers=desk.tenant.headers(Role.operator)
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def _actions(report: dict[str, Any]) -> list[tuple[int, str, str, list[str]]]:
    return [(a["row"], a["key"], a["action"], a["changes"]) for a in report["row_actions"]]


async def test_a_dry_run_says_what_each_row_would_do_and_writes_nothing(desk: Desk, http: httpx.AsyncClient) -> None:
    headers = desk.tenant.headers(Role.viewer)
    before = (await http.get(desk.url("/catalog/products/PB-10R"), headers=headers)).json()

    dry = await _import(http, desk, "products", PRODUCTS_CSV, "?dry_run=true&on_error=skip")

    assert _actions(dry) == [
        (2, "PB-10R", "update", ["unit_price"]),
        (3, "PB-12R", "unchanged", []),
        (4, "NEW-9", "create", []),
        (5, "NEW-8", "error", []),
    ]
    totals = ("created", "updated", "unchanged", "errors", "skipped", "applied", "dry_run")
    assert tuple(dry[name] for name in totals) == (1, 1, 1, 1, 1, False, True)
    assert dry["unknown_columns"] == ["Colour"]
    assert [(p["row"], p["column"]) for p in dry["problems"]] == [(5, "Product Name")]
    assert (await http.get(desk.url("/catalog/products/NEW-9"), headers=headers)).status_code == 404
    assert (await http.get(desk.url("/catalog/products/PB-10R"), headers=headers)).json() == before


async def test_importing_the_same_file_again_changes_nothing(desk: Desk, http: httpx.AsyncClient) -> None:
    headers = desk.tenant.headers(Role.viewer)
    stock = (await http.get(desk.url("/catalog/products/PB-10R"), headers=headers)).json()["stock"]

    first = await _import(http, desk, "products", PRODUCTS_CSV, "?on_error=skip")
    after_first = (await http.get(desk.url("/catalog/products/PB-10R"), headers=headers)).json()
    again = await _import(http, desk, "products", PRODUCTS_CSV, "?on_error=skip")
    after_again = (await http.get(desk.url("/catalog/products/PB-10R"), headers=headers)).json()

    assert (first["applied"], first["created"], first["updated"], first["unchanged"]) == (True, 1, 1, 1)
    assert after_first["unit_price"] == "29.0000" and after_first["stock"] == stock  # no Stock column: kept
    assert (again["created"], again["updated"], again["unchanged"], again["errors"]) == (0, 0, 3, 1)
    assert [action for _, _, action, _ in _actions(again)] == ["unchanged", "unchanged", "unchanged", "error"]
    assert after_again["updated_at"] == after_first["updated_at"]


async def test_the_import_route_documents_its_columns(desk: Desk, http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    paths = schema["paths"]

    products = paths["/api/v1/workspaces/{workspace}/catalog/products/import"]["post"]["description"]
    rules = paths["/api/v1/workspaces/{workspace}/catalog/rules/import"]["post"]["description"]

    assert "`unit_price` (also: price" in products and "separated by ; or |" in products
    assert "`per_trigger_piece`" in rules and "`charged`" in rules


# ------------------------------------------------------------------------------------------ derived-item rules

CUTLERY_RULE = {
    "name": "cutlery_with_trays",
    "derived_sku": "CU-SET",
    "trigger_categories": ["meal_tray"],
    "per_trigger_piece": "1",
    "charged": True,
    "note": "One cutlery set per meal tray.",
}
TRAYS = "Outlet: Slice Republic Tampines\n3-Compartment Meal Tray: 2 cartons"  # 2 x 250 trays


async def _draft_lines(http: httpx.AsyncClient, desk: Desk, session_id: str, text: str) -> dict[str, dict[str, Any]]:
    body = {"session_id": session_id, "sender_phone": TAMPINES_PHONE, "text": text}
    reply = await http.post(desk.url("/orders/messages"), json=body, headers=desk.tenant.headers(Role.service))
    assert reply.status_code == 200 and reply.json()["order_number"], reply.text
    order = await http.get(desk.url(f"/orders/{reply.json()['order_number']}"), headers=desk.tenant.headers())
    return {line["sku"]: line for line in order.json()["lines"]}


async def test_a_rule_made_over_the_api_adds_its_line_to_the_next_order(desk: Desk, http: httpx.AsyncClient) -> None:
    headers = desk.tenant.headers(Role.operator)
    created = await http.post(desk.url("/catalog/rules"), json=CUTLERY_RULE, headers=headers)
    assert created.status_code == 201, created.text

    first = await _draft_lines(http, desk, "r1", TRAYS)
    changed = await http.patch(
        desk.url("/catalog/rules/cutlery_with_trays"),
        json={"per_trigger_piece": "2", "charged": False, "note": "Cutlery is on us."},
        headers=headers,
    )
    second = await _draft_lines(http, desk, "r2", TRAYS)
    listed = (await http.get(desk.url("/catalog/rules?q=cutlery"), headers=headers)).json()

    cutlery = first["CU-SET"]  # 500 trays, 1 set each, 500 sets a carton: 1 carton, priced
    assert (cutlery["quantity"], cutlery["derived"], cutlery["charged"]) == (1, True, True)
    assert cutlery["note"] == "One cutlery set per meal tray." and cutlery["line_total"] != "0"
    assert changed.status_code == 200 and Decimal(changed.json()["per_trigger_piece"]) == 2
    cutlery = second["CU-SET"]  # the changed rule applies at once: 2 sets a tray, free
    assert (cutlery["quantity"], cutlery["charged"], cutlery["note"]) == (2, False, "Cutlery is on us.")
    assert [rule["name"] for rule in listed["items"]] == ["cutlery_with_trays"] and listed["total"] == 1

    deleted = await http.delete(desk.url("/catalog/rules/cutlery_with_trays"), headers=headers)
    third = await _draft_lines(http, desk, "r3", TRAYS)
    assert deleted.status_code == 204 and "CU-SET" not in third


async def test_bad_rules_are_refused_naming_what_is_wrong(desk: Desk, http: httpx.AsyncClient) -> None:
    headers = desk.tenant.headers(Role.operator)

    async def create(**changes: Any) -> httpx.Response:
        return await http.post(desk.url("/catalog/rules"), json=CUTLERY_RULE | changes, headers=headers)

    unknown = await create(derived_sku="NOPE-1", trigger_skus=["PB-10R", "NOPE-2"])
    zero = await create(per_trigger_piece="0")
    no_trigger = await create(trigger_categories=[])
    itself = await create(trigger_skus=["CU-SET"])
    taken = await create(name="liners_with_premium_boxes")
    patched = await http.patch(
        desk.url("/catalog/rules/liners_with_premium_boxes"), json={"trigger_skus": ["GONE-1"]}, headers=headers
    )
    viewer = await http.post(desk.url("/catalog/rules"), json=CUTLERY_RULE, headers=desk.tenant.headers(Role.viewer))

    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_sku"
    assert "NOPE-1" in unknown.json()["error"]["message"] and "NOPE-2" in unknown.json()["error"]["message"]
    assert zero.status_code == 422 and "per_trigger_piece" in zero.json()["error"]["message"]
    assert no_trigger.status_code == 400 and no_trigger.json()["error"]["code"] == "rule_without_trigger"
    assert itself.status_code == 400 and itself.json()["error"]["code"] == "rule_triggers_itself"
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "rule_exists"
    assert patched.status_code == 400 and "GONE-1" in patched.json()["error"]["message"]
    assert viewer.status_code == 403
    rule = (await http.get(desk.url("/catalog/rules/liners_with_premium_boxes"), headers=headers)).json()
    assert rule["trigger_skus"] == ["PB-10P", "PB-12P", "PB-14P"]  # the refused change left it as it was


RULES_CSV = (
    "Name,Derived SKU,Trigger SKUs,Trigger categories,Per trigger piece,Skip if ordered,Charged,Note\n"
    'liners_with_regular_boxes,PL-GP,PB-10R; PB-12R,,1,yes,free,"One liner per regular box, free."\n'
    "lids_with_containers,RC-LID,RC-500|NOPE-3,,1,yes,charged,\n"
    "nothing_triggers,CU-SET,,,1,yes,free,\n"
)


async def test_rules_are_imported_from_csv_with_a_report(desk: Desk, http: httpx.AsyncClient) -> None:
    dry = await _import(http, desk, "rules", RULES_CSV, "?dry_run=true&on_error=skip")
    report = await _import(http, desk, "rules", RULES_CSV, "?on_error=skip")
    again = await _import(http, desk, "rules", RULES_CSV, "?on_error=skip")
    lines = await _draft_lines(http, desk, "i1", "Outlet: Slice Republic Tampines\n12 inch regular box 3 bundles")

    assert [action for _, _, action, _ in _actions(dry)] == ["create", "error", "error"]
    problems = {(p["row"], p["column"]): p["problem"] for p in dry["problems"]}
    assert "NOPE-3" in problems[(3, "Trigger SKUs")] and (4, "Trigger SKUs") in problems
    assert (report["applied"], report["created"], again["unchanged"], again["created"]) == (True, 1, 1, 0)
    rule = (await http.get(desk.url("/catalog/rules/liners_with_regular_boxes"), headers=desk.tenant.headers())).json()
    assert rule["trigger_skus"] == ["PB-10R", "PB-12R"] and rule["charged"] is False
    liner = lines["PL-GP"]  # 300 boxes, one liner each, 100 a pack: 3 packs, free
    assert (liner["quantity"], liner["derived"], liner["charged"]) == (3, True, False)
    assert liner["note"] == "One liner per regular box, free."
