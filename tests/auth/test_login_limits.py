"""Password sign-in limits: an attacker who guesses slows only themselves, never locks the owner out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from tests.conftest import Tenant

Client = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def from_address(ctx: AppContext) -> AsyncIterator[Client]:
    """HTTP clients of one app, each seen by it as coming from its own address."""
    app = create_app(ctx.settings, context=ctx)
    opened: list[httpx.AsyncClient] = []

    def make(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        opened.append(httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60))
        return opened[-1]

    yield make
    for http in opened:
        await http.aclose()


async def _sign_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/token", json={"email": email, "password": password})


async def test_thirty_wrong_passwords_from_one_client_do_not_lock_the_owner_out(
    from_address: Client, tenant: Tenant
) -> None:
    attacker, owner = from_address("203.0.113.66"), from_address("198.51.100.7")
    statuses = [(await _sign_in(attacker, tenant.admin_email, f"guess-{n}")).status_code for n in range(30)]

    signed_in = await _sign_in(owner, tenant.admin_email, tenant.admin_password)

    assert signed_in.status_code == 200, signed_in.text
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses
    refused = await _sign_in(attacker, tenant.admin_email, tenant.admin_password)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1, "even the right password waits"


async def test_an_account_over_its_ceiling_slows_every_client_but_lets_a_new_one_try_at_once(
    from_address: Client, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsdesk.auth import login_guard

    monkeypatch.setattr(login_guard, "ACCOUNT_CEILING", 4)
    for n in range(4):  # a botnet: one guess per address
        assert (await _sign_in(from_address(f"192.0.2.{n}"), tenant.admin_email, "guess")).status_code == 401
    owner = from_address("198.51.100.7")

    first = await _sign_in(owner, tenant.admin_email, tenant.admin_password)
    another_bot = from_address("192.0.2.99")
    guesses = [(await _sign_in(another_bot, tenant.admin_email, "guess")).status_code for _ in range(3)]

    assert first.status_code == 200, first.text
    assert guesses[0] == 401 and guesses[1:] == [429, 429], "above the ceiling: one try per client per few seconds"


def test_backoff_doubles_after_the_free_failures_and_is_capped() -> None:
    from opsdesk.auth.login_guard import FREE_FAILURES, MAX_BACKOFF_S, backoff_s

    assert [backoff_s(n) for n in range(FREE_FAILURES)] == [0] * FREE_FAILURES
    assert [backoff_s(FREE_FAILURES + n) for n in range(5)] == [1, 2, 4, 8, 16]
    assert backoff_s(FREE_FAILURES + 40) == MAX_BACKOFF_S
