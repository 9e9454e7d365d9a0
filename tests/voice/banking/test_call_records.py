"""With a database: the flow's checkpoints in PostgreSQL (a call goes on in another process), every call recorded
in `voice_calls` with its transcript masked, transfer summaries in the operator inbox, the read API and retention."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.conversation.escalation import list_escalations
from opsdesk.core.errors import NotFound
from opsdesk.voice.banking.backend import LocalBank
from opsdesk.voice.banking.dialogue import replies
from opsdesk.voice.banking.dialogue.processor import BankingDialogue, DialogueOutcome, DialogueTimers
from opsdesk.voice.calls.service import end_reasons, get_call, purge_old_calls, save_call
from opsdesk.voice.desk import BankingDesk, open_banking_desk
from opsdesk.voice.gateway import CallRecord, GatewayConfig
from opsdesk.voice.pipeline.frames import CallStarted, Hangup, TranscriptFinal, Transfer
from opsdesk.voice.pipeline.processor import StageTiming
from opsdesk.voice.pipeline.processors import CallState
from tests.conftest import Tenant
from tests.voice.banking.dialogue_helpers import customer
from tests.voice.banking.test_dialogue_stage import Stage

QUIET = DialogueTimers(silence_seconds=60)


@pytest.fixture
async def desk(ctx: AppContext, tenant: Tenant) -> AsyncIterator[BankingDesk]:
    made = await open_banking_desk(ctx=ctx, workspace_id=tenant.workspace_id, timers=QUIET)
    yield made
    await made.aclose()


async def _call(desk: BankingDesk, call_id: str, *frames: TranscriptFinal | str) -> Stage:
    """A call through the desk's dialogue stage: keys (str, '#' ends an entry) and words, until it ends."""
    dialogue = desk.dialogue(CallState(), GatewayConfig())
    assert isinstance(dialogue, BankingDialogue)
    stage = Stage(dialogue)
    stage.pipeline.start()
    stage.put(CallStarted(call_id=call_id, caller="+441632960001"))
    for frame in frames:
        if isinstance(frame, str):
            stage.keys(frame)
        else:
            stage.put(frame)
    await stage.until(lambda: any(isinstance(frame, Transfer | Hangup) for frame in stage.frames))
    return stage


def _record(call_id: str, stage: Stage) -> CallRecord:
    now = time.time()
    timings = [
        StageTiming("dialogue", "TranscriptFinal", "BotText", 0.012),
        StageTiming("asr", "SpeechStopped", "TranscriptFinal", 0.3),
    ]
    return CallRecord(
        call_id,
        "+441632960001",
        now - 30,
        now,
        "transferred",
        transcripts=["my card is 4000 1234 5678 9010"],
        timings=timings,
    )


async def test_a_transferred_call_is_in_the_inbox_and_on_record_masked(
    desk: BankingDesk, ctx: AppContext, tenant: Tenant, other_tenant: Tenant, client: httpx.AsyncClient
) -> None:
    alice = customer()
    stage = await _call(
        desk, "call-a", alice.card + "#", alice.pin + "#", TranscriptFinal(text="where is my new card"),
        TranscriptFinal(text="I want to speak to an agent"),
    )  # fmt: skip
    assert any(isinstance(frame, Transfer) for frame in stage.frames)
    async with ctx.db.session() as session:
        cases, _ = await list_escalations(session, tenant.workspace_id)
    assert len(cases) == 1
    assert "caller asked for a person" in cases[0].reason and "identity check: passed" in cases[0].reason
    assert alice.card not in cases[0].reason and alice.pin not in cases[0].reason

    await desk.record(_record("call-a", stage), stage.dialogue)
    await stage.pipeline.stop("caller hung up")
    viewer = tenant.headers(Role.viewer)
    listed = await client.get(f"/api/v1/workspaces/{tenant.slug}/voice/calls", headers=viewer)
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 1
    row = listed.json()["items"][0]
    assert row["auth_outcome"] == "passed" and row["transfers"] == 1 and row["intents"] == ["card_delivery", "agent"]
    assert row["end_reason"] == "caller asked for a person"

    detail = (await client.get(f"/api/v1/workspaces/{tenant.slug}/voice/calls/call-a", headers=viewer)).json()
    assert detail["stage_latencies"]["dialogue"]["p50_ms"] == 12.0
    assert "caller asked for a person" in detail["transfer_summary"]
    text = repr(detail)
    for secret in (alice.card, alice.pin, "4000 1234 5678 9010"):
        assert secret not in text
    assert {"who": "caller", "text": "[4 keys]"} in detail["transcript"]

    other = other_tenant.headers(Role.admin)
    assert (await client.get(f"/api/v1/workspaces/{tenant.slug}/voice/calls", headers=other)).status_code == 403
    missing = await client.get(f"/api/v1/workspaces/{tenant.slug}/voice/calls/nope", headers=viewer)
    assert missing.status_code == 404
    bad_page = await client.get(f"/api/v1/workspaces/{tenant.slug}/voice/calls?limit=0", headers=viewer)
    assert bad_page.status_code == 422
    assert (await client.get(f"/api/v1/workspaces/{tenant.slug}/voice/calls")).status_code == 401


async def test_the_calls_api_filters_by_end_reason_and_transfer(
    ctx: AppContext, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    now = time.time()
    calls = {
        "call-put-through": DialogueOutcome(transfers=1, end_reason="caller asked for a person"),
        "call-done": DialogueOutcome(end_reason="completed"),
        "call-hung-up": DialogueOutcome(end_reason="caller hung up"),
        "call-done-later": DialogueOutcome(transfers=2, end_reason="completed"),
    }
    async with ctx.db.session() as session:
        for n, (call_id, outcome) in enumerate(calls.items()):
            await save_call(
                session, tenant.workspace_id, CallRecord(call_id, "+4416329600", now + n, now + n + 5), outcome
            )
    async with ctx.db.session() as session:
        assert await end_reasons(session, tenant.workspace_id) == [
            "caller asked for a person",
            "caller hung up",
            "completed",
        ]
    viewer = tenant.headers(Role.viewer)
    url = f"/api/v1/workspaces/{tenant.slug}/voice/calls"

    async def listed(**params: str) -> list[str]:
        response = await client.get(url, params=params, headers=viewer)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == len(response.json()["items"])
        return [item["call_id"] for item in response.json()["items"]]

    assert await listed() == ["call-done-later", "call-hung-up", "call-done", "call-put-through"]
    assert await listed(end_reason="completed") == ["call-done-later", "call-done"]
    assert await listed(transferred="true") == ["call-done-later", "call-put-through"]
    assert await listed(transferred="false") == ["call-hung-up", "call-done"]
    assert await listed(end_reason="completed", transferred="false") == ["call-done"]
    assert await listed(end_reason="no such reason") == []
    second = (await client.get(url, params={"limit": "1", "offset": "1"}, headers=viewer)).json()
    assert [item["call_id"] for item in second["items"]] == ["call-hung-up"]
    assert (second["total"], second["limit"], second["offset"]) == (4, 1, 1)
    for bad in ({"transferred": "maybe"}, {"end_reason": ""}, {"end_reason": "x" * 65}):
        assert (await client.get(url, params=bad, headers=viewer)).status_code == 422, bad


async def test_a_bank_that_times_out_is_recorded_as_such(ctx: AppContext, tenant: Tenant) -> None:
    slow = await open_banking_desk(
        backend=LocalBank.from_file(latency=2.0), bank_timeout=0.05, ctx=ctx, workspace_id=tenant.workspace_id,
        timers=QUIET,
    )  # fmt: skip
    try:
        stage = await _call(slow, "call-slow", customer().card + "#")
        assert replies.BACKEND_DOWN in stage.said()
        await slow.record(_record("call-slow", stage), stage.dialogue)
        await stage.pipeline.stop("transferred")
    finally:
        await slow.aclose()
    async with ctx.db.session() as session:
        from opsdesk.voice.calls.service import get_call

        row = await get_call(session, tenant.workspace_id, "call-slow")
    assert row.end_reason == "bank back end unavailable" and row.auth_outcome == "backend_unavailable"
    assert row.transfers == 1


async def test_a_call_goes_on_from_its_checkpoint_in_another_process(ctx: AppContext, tenant: Tenant) -> None:
    first = await open_banking_desk(ctx=ctx, workspace_id=tenant.workspace_id)
    second = await open_banking_desk(ctx=ctx, workspace_id=tenant.workspace_id)
    try:
        await first.flow.start("call-d", "caller")
        moved = await second.flow.answer("call-d", "digits", customer().account)
        assert moved.step == "pin"
        await second.flow.finish("call-d")
        restarted = await first.flow.start("call-d", "caller")  # a finished call's thread is gone: a fresh start
        assert restarted.step == "number" and restarted.trace == ("greet",)
    finally:
        await first.aclose()
        await second.aclose()


async def test_records_older_than_the_retention_are_purged(desk: BankingDesk, ctx: AppContext, tenant: Tenant) -> None:
    stage = await _call(desk, "call-old", TranscriptFinal(text="operator"))
    record = _record("call-old", stage)
    record.started = time.time() - 40 * 86400
    await desk.record(record, stage.dialogue)
    await stage.pipeline.stop("transferred")
    async with ctx.db.session() as session:
        assert await purge_old_calls(session, 0) == 0  # 0 keeps everything
        assert await purge_old_calls(session, 60) == 0
        assert await purge_old_calls(session, 30, now=datetime.now(UTC) + timedelta(seconds=1)) == 1


async def test_the_gateway_inside_opsdesk_up_runs_the_banking_desk_on_the_app_database(ctx: AppContext) -> None:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    from opsdesk.voice.cli import start_in_process
    from opsdesk.voice.sip.client import place_call
    from opsdesk.voice.web_audio import web_voice

    gateway = await start_in_process("127.0.0.1", 0, ctx, asr="none")
    try:
        desk = ctx.extras["voice.desk"]
        assert isinstance(desk, BankingDesk) and isinstance(desk.flow.checkpointer, AsyncPostgresSaver)
        assert (await web_voice(ctx)).engines is gateway.engines  # calls from the browser share the engines
        alice = customer()
        outcome = await place_call(
            "127.0.0.1", gateway.port, bytes(3200), digits=f"{alice.card}#{alice.pin}#", listen_seconds=3.0
        )
        record = (await gateway.wait_for_records(1))[-1]
    finally:
        await gateway.stop()
    assert outcome.status == 200 and len(outcome.heard) > 16000  # more than a second of the desk speaking
    assert record.keys_pressed == 22 and record.outcome == "caller hung up"


async def test_the_daily_retention_task_purges_records_past_the_message_retention(
    desk: BankingDesk, ctx: AppContext, tenant: Tenant
) -> None:
    import uuid

    from opsdesk.jobs.registry import JobRun, get
    from opsdesk.voice.calls.tasks import calls_retention_purge

    stage = await _call(desk, "call-ancient", TranscriptFinal(text="operator"))
    record = _record("call-ancient", stage)
    record.started = time.time() - (ctx.settings.message_retention_days + 1) * 86400
    await desk.record(record, stage.dialogue)
    await stage.pipeline.stop("transferred")

    task = get("voice.calls_retention_purge")
    assert task.cron is not None and task.function is calls_retention_purge
    run = JobRun(uuid.uuid4(), task.name, None, {}, 1)
    assert await calls_retention_purge(ctx, run) == {"purged_calls": 1, "purged_recordings": 0}


async def test_recordings_past_their_retention_are_deleted_and_no_longer_referenced(
    desk: BankingDesk, ctx: AppContext, tenant: Tenant, tmp_path: Path
) -> None:
    import os
    import uuid

    from opsdesk.jobs.registry import JobRun
    from opsdesk.voice.calls.tasks import calls_retention_purge

    directory = tmp_path / "recordings"
    directory.mkdir()
    ctx.settings.voice_recordings_dir = directory
    ctx.settings.voice_recording_retention_days = 30  # the records themselves are kept for the message retention
    files: dict[str, Path] = {}
    for call_id, days in (("call-recent", 2), ("call-month", 40), ("call-ancient", 400)):
        stage = await _call(desk, call_id, TranscriptFinal(text="operator"))
        record = _record(call_id, stage)
        record.started = time.time() - days * 86400
        record.recording = files[call_id] = directory / f"20261207-040000-{call_id}.wav"
        files[call_id].write_bytes(b"RIFF")
        await desk.record(record, stage.dialogue)
        await stage.pipeline.stop("transferred")
    unnamed = directory / "20250101-120000-no-record.wav"  # a call the gateway kept without a database
    other = directory / "notes.wav"  # not the gateway's: never touched
    for path in (unnamed, other):
        path.write_bytes(b"RIFF")
        old = time.time() - 60 * 86400
        os.utime(path, (old, old))

    run = JobRun(uuid.uuid4(), "voice.calls_retention_purge", None, {}, 1)
    assert await calls_retention_purge(ctx, run) == {"purged_calls": 1, "purged_recordings": 3}

    assert files["call-recent"].is_file() and other.is_file()
    assert not files["call-month"].exists() and not files["call-ancient"].exists() and not unnamed.exists()
    async with ctx.db.session() as session:
        assert (await get_call(session, tenant.workspace_id, "call-recent")).recording == str(files["call-recent"])
        assert (await get_call(session, tenant.workspace_id, "call-month")).recording is None  # record kept
        with pytest.raises(NotFound):
            await get_call(session, tenant.workspace_id, "call-ancient")
    assert await calls_retention_purge(ctx, run) == {"purged_calls": 0, "purged_recordings": 0}


async def test_opsdesk_up_keeps_a_recording_of_each_call_named_in_its_record(
    ctx: AppContext, tenant: Tenant, tmp_path: Path
) -> None:
    from opsdesk.voice.audio import read_wav
    from opsdesk.voice.cli import start_in_process
    from opsdesk.voice.sip.client import place_call

    ctx.settings.default_workspace = tenant.slug
    ctx.settings.voice_recordings_dir = tmp_path / "recordings"
    gateway = await start_in_process("127.0.0.1", 0, ctx, asr="none")
    try:
        speech = (np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440) * 8000).astype("<i2").tobytes()
        await place_call("127.0.0.1", gateway.port, speech, digits="0", listen_seconds=1.0)
        record = (await gateway.wait_for_records(1))[-1]
    finally:
        await gateway.stop()
    assert record.recording is not None and record.recording.parent == tmp_path / "recordings"
    heard = read_wav(record.recording)
    assert heard.rate == 8000 and len(heard.samples) >= 6000  # the caller's second of tone, as it arrived
    async with ctx.db.session() as session:
        stored = await get_call(session, tenant.workspace_id, record.call_id)
    assert stored.recording == str(record.recording)
