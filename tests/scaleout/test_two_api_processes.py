"""The same scenarios against two API processes and one worker sharing one PostgreSQL and one Redis."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.orders.chat.runtime import open_order_flow
from opsdesk.orders.demo import KB_NAME, seed_catalog
from opsdesk.orders.models import Order
from tests.conftest import Tenant, make_tenant
from tests.conversation.conftest import POLICIES
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE
from tests.scaleout.conftest import Cluster

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SECOND_FORM = (
    'ORDER FORM\nOutlet: Slice Republic Tampines\n12" Regular Box (100/bundle): 2 bundles\nLiners (100/pack): 5 pack\n'
)


async def _tenant(ctx: AppContext, slug: str) -> Tenant:
    tenant = await make_tenant(ctx, slug)
    async with ctx.db.session() as session:
        await seed_catalog(session, tenant.workspace_id)
    return tenant


async def _orders(ctx: AppContext) -> list[Any]:
    async with ctx.db.session() as session:
        return list((await session.execute(select(Order.session_id, Order.number, Order.status))).all())


def _metric(text: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample.startswith(name + "{") and all(f'{key}="{wanted}"' in sample for key, wanted in labels.items()):
            return float(value)
    return 0.0


async def test_turns_of_one_conversation_sent_to_both_processes_run_one_at_a_time(
    cluster: Cluster, ctx: AppContext
) -> None:
    tenant = await _tenant(ctx, "twoproc")
    path = f"/api/v1/workspaces/{tenant.slug}/orders/messages"
    headers = tenant.headers(Role.operator)
    async with httpx.AsyncClient(timeout=60) as http:
        for round_ in range(3):
            session_id = f"wa-both-{round_}"
            bodies = [
                {"session_id": session_id, "sender_phone": TAMPINES_PHONE, "text": text, "message_id": f"m{round_}-{n}"}
                for n, text in enumerate((FORM_ORDER, SECOND_FORM))
            ]
            responses = await asyncio.gather(
                *(
                    http.post(url + path, json=body, headers=headers)
                    for url, body in zip(cluster.urls, bodies, strict=True)
                )
            )
            assert [response.status_code for response in responses] == [200, 200], [r.text for r in responses]
            replies = [response.json() for response in responses]

            # One ran first and drafted; the other saw that draft waiting and asked whether it replaces it.
            async with ctx.db.session() as session:
                orders = await session.scalar(
                    select(func.count()).select_from(Order).where(Order.session_id == session_id)
                )
            assert orders == 1, (orders, replies, await _orders(ctx))
            assert all(reply["awaiting"] == "confirmation" for reply in replies), replies
            assert any("REPLACE or SECOND" in reply["reply"] for reply in replies), replies
            flow = await open_order_flow(ctx)
            position = await flow.position(tenant.workspace_id, session_id)
            drafted = next(reply["order_id"] for reply in replies if reply["order_id"])
            assert str(position.order_id) == drafted and not position.stalled


async def test_an_answer_computed_in_one_process_is_served_by_the_other(cluster: Cluster, ctx: AppContext) -> None:
    tenant = await _tenant(ctx, "sharedcache")
    base = f"/api/v1/workspaces/{tenant.slug}"
    headers = tenant.headers(Role.admin)
    first, second = cluster.urls
    async with httpx.AsyncClient(timeout=60) as http:
        created = await http.post(f"{first}{base}/knowledge-bases", json={"name": KB_NAME}, headers=headers)
        assert created.status_code == 201, created.text
        documents = [{"key": key, "text": text} for key, (_, text) in POLICIES.items()]
        queued = await http.post(
            f"{first}{base}/knowledge-bases/{KB_NAME}/ingest",
            json={"kind": "api", "documents": documents},
            headers=headers,
        )
        assert queued.status_code == 202, queued.text
        job = queued.json()
        for _ in range(300):  # the worker process ingests it
            job = (await http.get(f"{second}{base}/knowledge-bases/{KB_NAME}/jobs/{job['id']}", headers=headers)).json()
            if job["status"] in ("done", "failed", "cancelled"):
                break
            await asyncio.sleep(0.2)
        assert job["status"] == "done", job

        def ask(url: str, sender: str) -> Any:
            body = {"text": "What are your payment terms?", "sender": sender}
            return http.post(f"{url}{base}/conversations/messages", json=body, headers=headers)

        async def shared_hits() -> float:  # L1 (Redis) and L2 (PostgreSQL) are both shared between processes
            text = (await http.get(f"{second}/metrics")).text
            return sum(
                _metric(text, "opsdesk_conversation_cache_total", tier=tier, outcome="hit") for tier in ("l1", "l2")
            )

        before = await shared_hits()
        response = await ask(first, "+65 8000 0001")
        assert response.status_code == 200, response.text
        answered = response.json()
        assert answered["cached"] is None and answered["intent"] == "policy_question", answered
        served = (await ask(second, "+65 8000 0002")).json()
        assert served["cached"] in ("l1", "l2") and served["reply"] == answered["reply"], served
        assert await shared_hits() == before + 1


async def _status(http: httpx.AsyncClient, url: str, slug: str, key: str) -> int:
    response = await http.get(
        f"{url}/api/v1/workspaces/{slug}/knowledge-bases", headers={"Authorization": f"Bearer {key}"}
    )
    return response.status_code


async def _served_after_revocation(http: httpx.AsyncClient, url: str, slug: str, key: str) -> int:
    """How many requests a process still serves with a revoked key before refusing it (0: the next one is refused).

    The revocation reaches other processes as a PostgreSQL notification sent at the revoking commit; the API answers
    only once its own process has heard it (`revoke_and_wait`). Not a wall-clock check: it counts requests, so a
    failure says how many were still served, and it fails if the key is never refused.
    """
    for served in range(50):
        status = await _status(http, url, slug, key)
        if status == 401:
            return served
        assert status == 200, status
        await asyncio.sleep(0.02)
    raise AssertionError(f"{url} still served a revoked key after 50 requests")


async def test_a_key_revoked_in_one_process_is_refused_by_the_other_on_its_next_request(
    cluster: Cluster, ctx: AppContext
) -> None:
    tenant = await make_tenant(ctx, "revoker")
    first, second = cluster.urls
    admin = tenant.headers(Role.admin)
    keys_path = f"/api/v1/workspaces/{tenant.slug}/api-keys"
    async with httpx.AsyncClient(timeout=30) as http:
        for attempt in range(5):
            created = await http.post(first + keys_path, json={"name": f"k{attempt}", "role": "viewer"}, headers=admin)
            assert created.status_code == 201, created.text
            key, key_id = created.json()["key"], created.json()["id"]
            for _ in range(3):  # cached in the second process
                assert await _status(http, second, tenant.slug, key) == 200
            revoked = await http.delete(f"{first}{keys_path}/{key_id}", headers=admin)
            assert revoked.status_code == 200, revoked.text
            assert await _served_after_revocation(http, second, tenant.slug, key) == 0


async def test_a_key_revoked_from_the_cli_is_refused_by_every_process_at_once(
    cluster: Cluster, ctx: AppContext
) -> None:
    tenant = await make_tenant(ctx, "clirevoke")
    key = tenant.keys[Role.viewer]
    async with httpx.AsyncClient(timeout=30) as http:
        for url in cluster.urls:
            assert await _status(http, url, tenant.slug, key) == 200
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "opsdesk.cli", "apikey", "revoke", key],
            env=cluster.env,
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()
        assert max([await _served_after_revocation(http, url, tenant.slug, key) for url in cluster.urls]) == 0
