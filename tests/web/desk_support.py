"""The order desk on the console's seeded server: its demo catalog in the acme workspace, an operator API key for the
chat API (the outlet's side), and the axe scan and screenshots of a set of pages (as test_browser.py does)."""

from __future__ import annotations

from typing import Any

import httpx

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.auth.roles import Role
from opsdesk.orders.demo import seed_catalog
from tests.web.conftest import SCREENSHOTS, ConsoleServer, People, sign_in

# (phone, name) of demo outlets; each test places its orders from its own outlet, so no draft waits on another's.
TAMPINES = ("+65 9123 4502", "Slice Republic Tampines")
MARINA_BAY = ("+65 9123 4501", "Slice Republic Marina Bay")
JURONG_POINT = ("+65 9123 4503", "Slice Republic Jurong Point")
NONNAS = ("+65 9234 1188", "Nonna's Kitchen")
BAO_BROS = ("+65 9678 5543", "Bao Bros")
MAKAN_CORNER = ("+65 9567 4432", "Makan Corner")


def order_form(outlet: str) -> str:
    """A form order the parser reads without a question (tests/orders/order_helpers.FORM_ORDER's shape)."""
    return (
        "🍕 ORDER FORM 🍕\n"
        f"Outlet: {outlet}\n"
        '📦 10" Regular Box (100/bundle): 600\n'
        '📦 12" Regular Box (100/bundle): 4 bundles\n'
        "▪️ Liners (100/pack): 3 pack\n"
        "Thank you!"
    )


_KEYS: dict[int, str] = {}


async def _seed(ctx: AppContext, people: People) -> str:
    async with ctx.db.session() as session:
        workspace = await auth.get_workspace(session, people.workspace)
        await seed_catalog(session, workspace.id)
        key, _ = await auth.create_api_key(session, workspace, "outlet chat", Role.operator)
    return key


def desk_key(console: ConsoleServer, people: People) -> str:
    """Seeds the order desk once per server; the key the outlets' chat client uses."""
    if id(console) not in _KEYS:
        _KEYS[id(console)] = console.call(lambda ctx: _seed(ctx, people))
    return _KEYS[id(console)]


def chat(console: ConsoleServer, key: str, sender: str, text: str) -> dict[str, Any]:
    """One message through the chat API (POST …/conversations/messages) to the order desk, as `sender`."""
    response = httpx.post(
        f"{console.url}/api/v1/workspaces/acme/conversations/messages",
        json={"text": text, "sender": sender, "solution": "orders"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def scan_and_photograph(browser: Any, console: ConsoleServer, people: People, pages: dict[str, str]) -> dict[str, Any]:
    """Each page at desktop (axe: serious and critical violations returned) and phone width (screenshots of both)."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: dict[str, list[str]] = {}
    for width, height, label in ((1280, 860, "desktop"), (390, 844, "phone")):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        sign_in(page, console, people.admin)
        for name, path in pages.items():
            page.goto(f"{console.url}{path}")
            if label == "desktop":
                results = axe.run(page)
                serious = [
                    f"{v['id']}: {v['help']} ({len(v['nodes'])})"
                    for v in results.response["violations"]
                    if v["impact"] in ("serious", "critical")
                ]
                if serious:
                    problems[name] = serious
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=label == "desktop")
        context.close()
    return problems
