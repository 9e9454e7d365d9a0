"""A process killed in the middle of the order flow: another process resumes from the checkpoint and finishes the
order with exactly one delivery order, one invoice and one Xero invoice."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from opsdesk.orders.chat.flow import thread_id
from opsdesk.orders.chat.handlers import handle_order_message
from opsdesk.orders.chat.runtime import open_order_flow, recover
from opsdesk.orders.models import DeliveryOrder, Invoice
from tests.fakes.xero_server import FakeXero
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE, Desk, counts, open_desk, xero_settings
from tests.support.processes import opsdesk_env

_CHILD = """
import asyncio, sys, uuid
from opsdesk.app.context import AppContext
from opsdesk.core.settings import Settings
from opsdesk.orders.chat.handlers import handle_order_message

async def main() -> None:
    ctx = await AppContext.open(Settings(_env_file=None), migrate=False)
    await handle_order_message(ctx, uuid.UUID(sys.argv[1]), sys.argv[2], sys.argv[3], "YES", message_id="yes-1")
    print("FINISHED", flush=True)

asyncio.run(main())
"""


async def _wait_for(
    condition: Callable[[], Awaitable[bool]], child: asyncio.subprocess.Process, timeout_s: float
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await condition():
        if child.returncode is not None:
            output = await child.stdout.read() if child.stdout else b""
            raise AssertionError(f"the child process ended early: {output.decode(errors='replace')}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the child process never reached the pause")
        await asyncio.sleep(0.1)


async def _start_child(desk: Desk, session_id: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """A process that sends the customer's YES and pauses in the flow step its environment names."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        str(desk.workspace_id),
        session_id,
        TAMPINES_PHONE,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


@pytest.mark.slow
@pytest.mark.parametrize("step", ["delivery_order", "invoice", "post"])
async def test_a_flow_killed_mid_way_resumes_without_duplicates(
    step: str, database_url: str, tmp_path: Path, fake_xero: FakeXero
) -> None:
    xero = xero_settings(fake_xero)
    async with open_desk(database_url, tmp_path, **xero) as desk:
        session_id = "wa-crash"
        asked = await handle_order_message(desk.ctx, desk.workspace_id, session_id, TAMPINES_PHONE, FORM_ORDER)
        assert asked.awaiting == "confirmation"

        child = await _start_child(
            desk, session_id, opsdesk_env(database_url, tmp_path, order_flow_pause=f"{step}=120", **xero)
        )
        try:
            await _wait_for(_reached(step, desk, fake_xero), child, timeout_s=90)
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
            await asyncio.wait_for(child.wait(), 30)
        assert child.returncode == -signal.SIGKILL

        flow = await open_order_flow(desk.ctx)
        position = await flow.position(desk.workspace_id, session_id)
        assert position.stalled and position.order_id == asked.order_id  # the checkpoint is before the step's end

        assert await recover(desk.ctx) == 1

        assert await counts(desk.ctx, desk.workspace_id) == (1, 1, 1)
        async with desk.ctx.db.session() as session:
            invoice = await session.scalar(select(Invoice))
        assert invoice is not None and invoice.status == "posted"
        assert len(fake_xero.invoices_with_reference(invoice.number)) == 1
        assert len(fake_xero.invoices) == 1
        finished = await flow.position(desk.workspace_id, session_id)
        assert not finished.stalled and finished.awaiting is None
        assert thread_id(desk.workspace_id, session_id).endswith(session_id)


def _reached(step: str, desk: Desk, fake_xero: FakeXero) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        _, deliveries, invoices = await counts(desk.ctx, desk.workspace_id)
        if step == "delivery_order":
            return deliveries == 1
        if step == "invoice":
            return invoices == 1
        return any(held["Status"] == "AUTHORISED" for held in fake_xero.invoices.values())

    return check


@pytest.mark.slow
@pytest.mark.parametrize("recovered_first", [True, False], ids=["after-recover", "before-recover"])
async def test_a_yes_retried_after_a_crash_is_told_where_its_order_stands(
    recovered_first: bool, database_url: str, tmp_path: Path, fake_xero: FakeXero
) -> None:
    xero = xero_settings(fake_xero)
    async with open_desk(database_url, tmp_path, **xero) as desk:
        session_id = "wa-retried-yes"
        asked = await handle_order_message(desk.ctx, desk.workspace_id, session_id, TAMPINES_PHONE, FORM_ORDER)
        assert asked.awaiting == "confirmation"
        child = await _start_child(
            desk, session_id, opsdesk_env(database_url, tmp_path, order_flow_pause="delivery_order=120", **xero)
        )
        try:  # the YES confirmed the order, then its process died before answering
            await _wait_for(_reached("delivery_order", desk, fake_xero), child, timeout_s=90)
        finally:
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
            await asyncio.wait_for(child.wait(), 30)
        if recovered_first:
            assert await recover(desk.ctx) == 1

        retried = await handle_order_message(
            desk.ctx, desk.workspace_id, session_id, TAMPINES_PHONE, "YES", message_id="yes-1"
        )
        resent = await handle_order_message(desk.ctx, desk.workspace_id, session_id, TAMPINES_PHONE, "yes")

        async with desk.ctx.db.session() as session:
            delivery = await session.scalar(select(DeliveryOrder))
        assert delivery is not None
        state = f"Order {asked.order_number} is confirmed; delivery order {delivery.number} on "
        for reply in (retried, resent):
            assert state in reply.reply, reply.reply
            assert "still working" not in reply.reply and "no order waiting" not in reply.reply
            assert reply.order_number == asked.order_number and reply.order_status == "confirmed"
        assert await counts(desk.ctx, desk.workspace_id) == (1, 1, 1)
        assert len(fake_xero.invoices) == 1
