"""Live calls: the desk writes a call's row in `voice_calls` when it starts (no end yet) and after each turn, with the
masked transcript the final record keeps; the end fills that same row. A row whose process died is shown as ended
("lost") once it has not been written for a few minutes, never as live forever."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.voice.banking.dialogue import replies
from opsdesk.voice.calls.models import VoiceCall
from opsdesk.voice.calls.service import end_reasons, list_calls
from opsdesk.voice.desk import BankingDesk, open_banking_desk
from opsdesk.voice.gateway import CallRecord, GatewayConfig
from opsdesk.voice.pipeline.frames import CallStarted
from opsdesk.voice.pipeline.processors import CallState
from tests.conftest import Tenant
from tests.voice.banking.dialogue_helpers import customer
from tests.voice.banking.test_call_records import QUIET
from tests.voice.banking.test_dialogue_stage import Stage

CALLER = "+441632960001"


@pytest.fixture
async def desk(ctx: AppContext, tenant: Tenant) -> AsyncIterator[BankingDesk]:
    made = await open_banking_desk(ctx=ctx, workspace_id=tenant.workspace_id, timers=QUIET)
    yield made
    await made.aclose()


async def _start(desk: BankingDesk, call_id: str) -> Stage:
    stage = Stage(desk.dialogue(CallState(), GatewayConfig()))  # type: ignore[arg-type]
    stage.pipeline.start()
    stage.put(CallStarted(call_id=call_id, caller=CALLER))
    await stage.until(lambda: replies.ASK_NUMBER in stage.said())
    return stage


async def _calls(ctx: AppContext, tenant: Tenant, live: bool | None) -> list[VoiceCall]:
    async with ctx.db.session() as session:
        rows, _ = await list_calls(session, tenant.workspace_id, live=live)
    return rows


async def _eventually(
    ctx: AppContext, tenant: Tenant, live: bool | None, condition: Callable[[list[VoiceCall]], bool]
) -> list[VoiceCall]:
    """The calls listed once `condition` holds (the desk writes in the background), within five seconds."""
    deadline = time.monotonic() + 5.0
    while True:
        rows = await _calls(ctx, tenant, live)
        if condition(rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


def _said(row: VoiceCall) -> str:
    return " ".join(turn["text"] for turn in row.transcript)


async def test_a_started_call_is_listed_live_with_its_turns_and_leaves_the_live_list_when_it_ends(
    desk: BankingDesk, ctx: AppContext, tenant: Tenant, other_tenant: Tenant, client: httpx.AsyncClient
) -> None:
    alice = customer()
    started = time.time()
    stage = await _start(desk, "call-live")
    live = await _eventually(ctx, tenant, True, lambda rows: bool(rows) and replies.ASK_NUMBER in _said(rows[0]))
    assert [row.call_id for row in live] == ["call-live"]
    assert live[0].live and live[0].ended_at is None and live[0].caller == CALLER
    assert replies.GREETING in _said(live[0])
    assert await _calls(ctx, tenant, False) == []

    stage.keys(alice.card + "#")
    await stage.until(lambda: replies.ASK_PIN in stage.said())
    stage.keys(alice.pin + "#")
    await stage.until(lambda: replies.ASK_NEED[:20] in stage.said())
    live = await _eventually(ctx, tenant, True, lambda rows: bool(rows) and replies.ASK_NEED[:20] in _said(rows[0]))
    turns = live[0].transcript
    assert {"who": "caller", "text": "[4 keys]"} in turns and live[0].auth_outcome == "passed"
    for secret in (alice.card, alice.pin):
        assert secret not in repr(turns)

    viewer = tenant.headers(Role.viewer)
    url = f"/api/v1/workspaces/{tenant.slug}/voice/calls"
    listed = (await client.get(url, params={"live": "true"}, headers=viewer)).json()
    assert [(item["call_id"], item["live"], item["ended_at"]) for item in listed["items"]] == [
        ("call-live", True, None)
    ]
    assert (await client.get(url, params={"live": "false"}, headers=viewer)).json()["total"] == 0
    other = other_tenant.headers(Role.admin)
    assert (await client.get(url, params={"live": "true"}, headers=other)).status_code == 403

    await desk.record(CallRecord("call-live", CALLER, started, time.time(), "caller hung up"), stage.dialogue)
    await stage.pipeline.stop("caller hung up")
    assert await _calls(ctx, tenant, True) == []
    ended = await _calls(ctx, tenant, None)
    assert [row.call_id for row in ended] == ["call-live"]  # the live row filled, not a second one
    assert ended[0].ended_at is not None and not ended[0].live and ended[0].end_reason == "caller hung up"
    assert ended[0].transcript == stage.dialogue.outcome.transcript  # type: ignore[attr-defined]
    assert ended[0].auth_outcome == "passed"


async def test_a_live_row_left_by_a_process_that_died_is_shown_as_a_lost_call(
    desk: BankingDesk, ctx: AppContext, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    stage = await _start(desk, "call-dead")
    await _eventually(ctx, tenant, True, lambda rows: bool(rows) and replies.ASK_NUMBER in _said(rows[0]))
    await stage.pipeline.stop("test over")  # the process dies: nothing saves the call's end
    async with ctx.db.session() as session:  # and nothing has written the row for ten minutes
        written = datetime.now(UTC) - timedelta(minutes=10)
        await session.execute(update(VoiceCall).where(VoiceCall.call_id == "call-dead").values(updated_at=written))

    assert await _calls(ctx, tenant, True) == []
    lost = await _calls(ctx, tenant, False)
    assert [(row.call_id, row.live, row.end_reason) for row in lost] == [("call-dead", False, "lost")]
    async with ctx.db.session() as session:
        assert await end_reasons(session, tenant.workspace_id) == ["lost"]
    url = f"/api/v1/workspaces/{tenant.slug}/voice/calls"
    item = (await client.get(url, headers=tenant.headers(Role.viewer))).json()["items"][0]
    assert (item["live"], item["end_reason"]) == (False, "lost")


async def test_a_live_write_that_fails_neither_stops_the_call_nor_its_final_record(
    desk: BankingDesk, ctx: AppContext, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsdesk.voice.calls import service

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("database gone")

    monkeypatch.setattr(service, "save_live_call", broken)
    started = time.time()
    stage = await _start(desk, "call-unwritten")
    stage.keys(customer().card + "#")
    await stage.until(lambda: replies.ASK_PIN in stage.said())  # the dialogue went on
    await desk.record(CallRecord("call-unwritten", CALLER, started, time.time(), "caller hung up"), stage.dialogue)
    await stage.pipeline.stop("caller hung up")
    rows = await _calls(ctx, tenant, None)
    assert [(row.call_id, row.end_reason) for row in rows] == [("call-unwritten", "caller hung up")]
    assert replies.ASK_PIN in _said(rows[0])
