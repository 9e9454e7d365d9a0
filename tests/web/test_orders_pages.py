"""The Orders and Catalog pages in a real browser: an outlet's order placed through the chat API is confirmed in the
console, found with the filters, and its delivery order and invoice download; a second order is changed and
cancelled; the delivery list and a catalog import's dry-run report; a viewer changes nothing; axe and screenshots."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from tests.web.conftest import ConsoleServer, People, sign_in
from tests.web.desk_support import (
    JURONG_POINT,
    MARINA_BAY,
    NONNAS,
    TAMPINES,
    chat,
    desk_key,
    order_form,
    scan_and_photograph,
)

pytestmark = pytest.mark.slow
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _place(console: ConsoleServer, people: People, outlet: tuple[str, str]) -> str:
    phone, name = outlet
    reply = chat(console, desk_key(console, people), phone, order_form(name))
    number = reply["metadata"].get("order_number")
    assert number, reply
    return str(number)


def _download(page: Any, link_name: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile(link_name)).click()
    download = info.value
    path = download.path()
    assert path is not None
    with open(path, "rb") as file:
        return download.suggested_filename, file.read()


def test_a_workspace_without_orders_says_how_to_get_one(page: Any, console: ConsoleServer, people: People) -> None:
    sign_in(page, console, people.admin)
    page.get_by_label("Workspace").select_option("globex")
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url(f"{console.url}/")
    page.goto(f"{console.url}/orders")
    assert page.get_by_text("No orders yet — send one from the chat").is_visible()


def test_an_order_from_the_chat_is_confirmed_found_and_its_documents_download(
    page: Any, console: ConsoleServer, people: People
) -> None:
    number = _place(console, people, TAMPINES)
    sign_in(page, console, people.admin, next_path="/orders")
    row = page.get_by_role("row", name=re.compile(number))
    assert "awaiting confirmation" in row.inner_text()
    row.get_by_role("link", name=number).click()
    page.wait_for_url(f"{console.url}/orders/{number}")
    assert page.get_by_role("rowheader", name="Total", exact=True).is_visible()
    assert "349.38" in page.locator("td.total").inner_text()  # 323.50 + GST 8 %, as the order desk prices it
    page.get_by_role("button", name="Confirm order").click()
    page.get_by_text("Order confirmed.").wait_for()
    assert "confirmed" in page.locator(".badge.status-confirmed").first.inner_text()
    history = page.locator("ol.history").inner_text()
    assert "Received" in history and "Confirmed" in history and "Delivery order issued" in history

    name, workbook = _download(page, "Delivery order DO-")
    assert name.startswith("DO-") and name.endswith(".xlsx") and workbook[:2] == b"PK"
    name, pdf = _download(page, "Invoice INV-")
    assert name.startswith("INV-") and name.endswith(".pdf") and pdf[:5] == b"%PDF-"
    answer = page.request.get(f"{console.url}/orders/{number}/invoice.pdf")
    assert answer.headers["content-type"] == "application/pdf"
    answer = page.request.get(f"{console.url}/orders/{number}/delivery-order.xlsx")
    assert answer.headers["content-type"] == XLSX

    page.goto(f"{console.url}/orders")
    page.get_by_label("Status").select_option("confirmed")
    page.get_by_label("Search").fill(number)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/orders?*status=confirmed*")
    page.get_by_role("link", name=number).wait_for()
    page.get_by_label("Status").select_option("cancelled")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/orders?*status=cancelled*")
    page.get_by_text("No order matches these filters.").wait_for()
    assert page.get_by_role("link", name=number).count() == 0


def test_an_order_is_changed_then_cancelled(page: Any, console: ConsoleServer, people: People) -> None:
    number = _place(console, people, MARINA_BAY)
    sign_in(page, console, people.admin, next_path=f"/orders/{number}")
    before = re.search(r"revision (\d+)", page.locator("main").inner_text())
    assert before is not None
    page.get_by_text("Change quantities").click()
    first = page.locator('input[name="quantity"]').first
    first.fill("2")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Order changed.").wait_for()
    assert f"revision {int(before[1]) + 1}" in page.locator("main").inner_text()
    assert "2 " in page.locator("table.lines tbody tr").first.locator("td.num").first.inner_text()
    page.get_by_label("Reason").fill("outlet closed for renovation")
    page.get_by_role("button", name="Cancel order").click()
    page.get_by_text("Order cancelled.").wait_for()
    assert page.get_by_role("button", name="Confirm order").count() == 0
    assert "outlet closed for renovation" in page.locator("ol.history").inner_text()
    forged = page.request.post(
        f"{console.url}/orders/{number}/confirm",
        form={"csrf_token": page.locator('meta[name="csrf-token"]').get_attribute("content")},
        headers={"Origin": console.url},
    )
    assert forged.status == 409 and "cancelled" in forged.text()  # the service refuses; the page says why


def test_the_delivery_list_downloads_for_a_date_range(page: Any, console: ConsoleServer, people: People) -> None:
    desk_key(console, people)
    sign_in(page, console, people.admin, next_path="/orders")
    today = date.today()
    page.locator("#list_from").fill((today - timedelta(days=1)).isoformat())
    page.locator("#list_to").fill((today + timedelta(days=14)).isoformat())
    with page.expect_download() as info:
        page.get_by_role("button", name="Download workbook").click()
    path = info.value.path()
    assert path is not None and info.value.suggested_filename.endswith(".xlsx")
    with open(path, "rb") as file:
        assert file.read(2) == b"PK"


def test_a_catalog_import_dry_run_reports_every_row_and_writes_nothing(
    page: Any, console: ConsoleServer, people: People
) -> None:
    desk_key(console, people)
    sign_in(page, console, people.admin, next_path="/catalog")
    assert page.get_by_role("heading", name=re.compile(r"^\d+ products")).is_visible()
    csv = b"sku,name,unit_price,colour\nNEW-1,Test lid,1.50,red\nBAD-2,Broken price,-3,blue\n"
    page.get_by_label("CSV or Excel file").set_input_files(
        files=[{"name": "products.csv", "mimeType": "text/csv", "buffer": csv}]
    )
    page.get_by_role("button", name="Import").click()
    report = page.locator("section.report")
    report.wait_for()
    text = report.inner_text()
    assert "dry run" in text and "2 rows" in text and "1 with problems" in text and "not applied" in text
    assert "colour" in text  # the unknown column is named
    assert page.get_by_role("table").filter(has_text="Problem").get_by_text("3").first.is_visible()
    page.goto(f"{console.url}/catalog?kind=products&q=NEW-1")
    assert page.get_by_text("No products match").is_visible()


def test_a_viewer_sees_no_order_buttons_and_a_forged_post_is_refused(
    page: Any, console: ConsoleServer, people: People
) -> None:
    number = _place(console, people, JURONG_POINT)
    sign_in(page, console, people.viewer, next_path=f"/orders/{number}")
    assert page.get_by_role("heading", name=f"Order {number}").is_visible()
    for button in ("Confirm order", "Save changes", "Cancel order"):
        assert page.get_by_role("button", name=button).count() == 0
    page.goto(f"{console.url}/catalog")
    assert page.get_by_role("button", name="Import").count() == 0
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = page.request.post(
        f"{console.url}/orders/{number}/cancel", form={"csrf_token": token}, headers={"Origin": console.url}
    )
    assert forged.status == 403 and "Request id" in forged.text()
    page.goto(f"{console.url}/orders/{number}")
    assert "awaiting confirmation" in page.locator("main").inner_text()


def test_the_order_pages_pass_axe_and_are_photographed(browser: Any, console: ConsoleServer, people: People) -> None:
    number = _place(console, people, NONNAS)
    pages = {
        "orders": "/orders",
        "order": f"/orders/{number}",
        "catalog": "/catalog",
        "outlets": "/catalog?kind=outlets",
    }
    assert scan_and_photograph(browser, console, people, pages) == {}


def test_a_hostile_product_name_from_an_import_stays_text(page: Any, console: ConsoleServer, people: People) -> None:
    desk_key(console, people)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, console, people.admin, next_path="/catalog")
    evil = "<img src=x onerror=alert(1)>"
    page.get_by_label("CSV or Excel file").set_input_files(
        files=[{"name": "p.csv", "mimeType": "text/csv", "buffer": f'sku,name\nEVIL-1,"{evil}"\n'.encode()}]
    )
    page.get_by_label("Dry run: only check and report").uncheck()
    page.get_by_role("button", name="Import").click()
    assert "1 created" in page.locator("section.report").inner_text()
    page.goto(f"{console.url}/catalog?kind=products&q=EVIL-1")
    assert page.get_by_role("cell", name=evil).is_visible()
    assert page.locator('img[src="x"]').count() == 0
    page.wait_for_timeout(300)  # give any injected handler its chance to run
    assert dialogs == []
