"""Sessions and CSRF over real HTTP: flags on the cookie, a new session id at sign-in, sign-out that ends the session
everywhere, and every state-changing request refused without this site's token or from another site."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.auth.console_session import COOKIE
from opsdesk.web.access import CONSOLE_ACCESS
from opsdesk.web.console import ConsoleRoute
from tests.web.conftest import PASSWORD, ConsoleServer, People

_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def _token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def _client(console: ConsoleServer, cookie: str | None = None) -> httpx.Client:
    """A client of the console, optionally holding someone else's cookie (as a browser would, for this host)."""
    http = httpx.Client(base_url=console.url, timeout=30)
    if cookie is not None:
        http.cookies.set(COOKIE, cookie, domain="127.0.0.1", path="/")
    return http


def _cookie(http: httpx.Client) -> str:
    values = [cookie.value for cookie in http.cookies.jar if cookie.name == COOKIE and cookie.value]
    assert len(values) == 1, values
    return str(values[0])


def _signed_in(console: ConsoleServer, email: str) -> tuple[httpx.Client, str]:
    http = httpx.Client(base_url=console.url, timeout=30)
    token = _token(http.get("/signin").text)
    answer = http.post("/signin", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    return http, _token(http.get("/").text)


def test_a_signed_in_session_gets_a_new_id_and_a_planted_cookie_stays_anonymous(
    console: ConsoleServer, people: People
) -> None:
    attacker = _client(console)
    attacker.get("/signin")
    planted = _cookie(attacker)
    victim = _client(console, planted)
    token = _token(victim.get("/signin").text)
    signed = victim.post("/signin", data={"email": people.admin, "password": PASSWORD, "csrf_token": token})
    assert signed.status_code == 303
    assert _cookie(victim) != planted
    assert victim.get("/").status_code == 200
    home = attacker.get("/")
    assert home.status_code == 303 and home.headers["location"].startswith("/signin")


async def _cookie_flags(ctx: AppContext) -> dict[str, str]:
    app = create_app(ctx.settings, context=ctx)
    found: dict[str, str] = {}
    for base in ("http://console.test", "https://console.test"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as http:
            found[base.split(":")[0]] = (await http.get("/signin")).headers["set-cookie"].lower()
    return found


def test_the_cookie_is_httponly_lax_and_secure_over_https(console: ConsoleServer) -> None:
    cookies = console.call(_cookie_flags)
    for cookie in cookies.values():
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookies["http"] and "; secure" in cookies["https"]


def test_signing_out_ends_the_session_even_for_a_copied_cookie(console: ConsoleServer, people: People) -> None:
    http, token = _signed_in(console, people.viewer)
    copied = _client(console, _cookie(http))
    assert copied.get("/").status_code == 200
    assert http.post("/signout", data={"csrf_token": token}).status_code == 303
    assert copied.get("/").status_code == 303


def test_wrong_password_is_refused_with_the_form_again(console: ConsoleServer, people: People) -> None:
    http = httpx.Client(base_url=console.url, timeout=30)
    token = _token(http.get("/signin").text)
    answer = http.post("/signin", data={"email": people.viewer, "password": "wrong password", "csrf_token": token})
    assert answer.status_code == 401 and "Wrong email or password." in answer.text


def test_a_post_without_the_token_or_from_another_site_is_refused(console: ConsoleServer, people: People) -> None:
    http, token = _signed_in(console, people.admin)
    no_token = http.post("/admin/api-keys", data={"name": "sneaky", "role": "admin"})
    assert no_token.status_code == 403 and "request-id" in no_token.text.replace("request_id", "request-id")
    wrong = http.post("/admin/api-keys", data={"name": "sneaky", "role": "admin", "csrf_token": "0" * 64})
    assert wrong.status_code == 403
    cross = http.post(
        "/admin/api-keys",
        data={"name": "sneaky", "role": "admin", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    fetch_cross = http.post(
        "/admin/api-keys",
        data={"name": "sneaky", "role": "admin", "csrf_token": token},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert fetch_cross.status_code == 403
    listed = http.get("/admin/api-keys")
    assert "sneaky" not in listed.text
    via_header = http.post("/admin/api-keys", data={"name": "by-header"}, headers={"X-CSRF-Token": token})
    assert via_header.status_code == 201


def test_a_viewer_is_refused_writes_even_with_a_valid_token(console: ConsoleServer, people: People) -> None:
    http, token = _signed_in(console, people.viewer)
    forged = http.post("/planner/what-if", data={"run_id": "00000000-0000-0000-0000-000000000000", "budget": "1",
                                                 "csrf_token": token})  # fmt: skip
    assert forged.status_code == 403
    assert "Request id" in forged.text
    assert http.get("/admin/api-keys").status_code == 403
    assert http.post("/knowledge", data={"name": "viewer-kb", "csrf_token": token}).status_code == 403


def test_console_pages_carry_the_security_headers(console: ConsoleServer) -> None:
    for path in ("/signin", "/static/console.css"):
        answer = httpx.get(f"{console.url}{path}")
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
    assert "immutable" in httpx.get(f"{console.url}/static/console.css").headers["cache-control"]
    assert httpx.get(f"{console.url}/static/../pyproject.toml").status_code == 404


def _console_routes(app: FastAPI) -> set[str]:
    found: set[str] = set()
    for candidate in app.routes:
        for context in getattr(candidate, "effective_route_contexts", lambda: [])():
            route = context.original_route
            if isinstance(route, ConsoleRoute):
                found |= {f"{method} {route.path}" for method in route.methods or () if method != "HEAD"}
    return found


def test_every_console_route_is_in_the_access_table_and_none_is_in_the_api_schema(console: ConsoleServer) -> None:
    app = create_app(console.settings, context=console.ctx)
    routes = _console_routes(app)
    assert routes == set(CONSOLE_ACCESS)
    assert not {entry.split(" ", 1)[1] for entry in routes} & set(app.openapi()["paths"])


@pytest.mark.parametrize("path", ["/", "/planner", "/knowledge", "/admin/api-keys"])
def test_pages_send_strangers_to_sign_in(console: ConsoleServer, path: str) -> None:
    answer = httpx.get(f"{console.url}{path}")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=")
