"""The calls page in a real browser: call records saved through the voice desk's service are listed with their
caller, intents, identity check, transfer and end reason, filter by end reason and transfer, and open on a page
with the masked transcript turn by turn and the stage latencies; a viewer reads it, and nothing there writes. A
recorded call plays in the page for an admin (the console's own route, signed in by the cookie, audited) and shows
no player to a viewer, whom the route refuses."""

from __future__ import annotations

import re
import time
import urllib.parse
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.auth.audit import service as audit
from opsdesk.voice.banking.dialogue.privacy import mask_caller_text
from opsdesk.voice.banking.dialogue.processor import DialogueOutcome
from opsdesk.voice.calls import service as calls
from opsdesk.voice.gateway import CallRecord
from opsdesk.voice.pipeline.processor import StageTiming
from tests.web.conftest import ConsoleServer, People, photograph, sign_in

PIN = "4921"
TRANSFERRED_ID = "a84b4c76e66710@pbx.example"
COMPLETED_ID = "f81d4fae-7dec/11d0@pbx.example"  # a Call-ID with a slash still opens


def _write_wav(path: Path) -> None:
    """Half a second of 8 kHz 16-bit silence with a ramp, as the gateway writes a caller's audio."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(range(256)) * 32)


def _records(started: float, recording: Path) -> list[tuple[CallRecord, DialogueOutcome]]:
    said = mask_caller_text(f"my pin is {PIN}", "pin")
    transferred = (
        CallRecord(
            call_id=TRANSFERRED_ID,
            caller="4477*****123",
            started=started,
            ended=started + 42.5,
            recording=recording,
            timings=[
                StageTiming("SileroVAD", "AudioFrame", "SpeechFrame", 0.004),
                StageTiming("Whisper", "x", "y", 0.61),
            ],
        ),
        DialogueOutcome(
            intents=["card_arrival", "talk_to_person"],
            auth="passed",
            transfers=1,
            end_reason="transferred",
            summary="Caller asks where the new card is.",
            transcript=[
                {"who": "bot", "text": "Welcome to the bank. Please key in your PIN."},
                {"who": "caller", "text": said},
                {"who": "bot", "text": "Thank you. Putting you through to a colleague."},
            ],
        ),
    )
    completed = (
        CallRecord(call_id=COMPLETED_ID, caller="4420****555", started=started - 600, ended=started - 590),
        DialogueOutcome(intents=["balance"], auth="failed", end_reason="completed", transcript=[]),
    )
    return [transferred, completed]


@pytest.fixture(scope="module")
def saved_calls(console: ConsoleServer, people: People, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    directory = tmp_path_factory.mktemp("recordings")
    recording = directory / f"20261207-041500-{TRANSFERRED_ID}.wav"
    _write_wav(recording)
    console.ctx.settings.voice_recordings_dir = directory

    async def save(ctx: AppContext) -> None:
        async with ctx.db.session() as db:
            workspace = await auth.get_workspace(db, people.workspace)
            for record, outcome in _records(time.time(), recording):
                await calls.save_call(db, workspace.id, record, outcome)

    console.call(save)
    yield
    console.ctx.settings.voice_recordings_dir = None


async def _recording_downloads(ctx: AppContext, slug: str) -> list[tuple[str, str]]:
    async with ctx.db.session() as db:
        workspace = await auth.get_workspace(db, slug)
        rows, _ = await audit.list_events(db, workspace.id, action="download_call_recording")
    return [(row.actor, row.route) for row in rows]


def serious_axe_violations(page: Any) -> list[str]:
    """axe's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def csp_violations(page: Any) -> list[str]:
    """Console messages about the Content-Security-Policy from now on (an inline script or style would be one)."""
    found: list[str] = []
    page.on(
        "console", lambda message: found.append(message.text) if "Content Security Policy" in message.text else None
    )
    return found


def test_calls_list_filters_and_opens_a_call_with_its_masked_transcript_and_latencies(
    page: Any, console: ConsoleServer, people: People, saved_calls: None
) -> None:
    blocked = csp_violations(page)
    sign_in(page, console, people.admin, next_path="/calls")
    page.get_by_role("heading", name="How to call the desk").wait_for()
    assert serious_axe_violations(page) == []
    assert "sip:desk@" in page.get_by_role("region", name="How to call the desk").inner_text()
    rows = page.locator("table.calls tbody tr")
    assert rows.count() == 2
    first = rows.first.inner_text()  # newest first
    assert "4477*****123" in first and "card_arrival, talk_to_person" in first
    assert "passed" in first and "transferred" in first and "42.5 s" in first
    assert "recorded" in first and "recorded" not in rows.nth(1).inner_text()

    page.get_by_label("Transferred").select_option("no")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/calls\?.*transferred=no"))
    assert rows.count() == 1 and "4420****555" in rows.first.inner_text()
    page.get_by_label("Transferred").select_option("")
    page.get_by_label("End reason").select_option("transferred")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/calls\?end_reason=transferred&transferred=$"))
    assert rows.count() == 1 and "4477*****123" in rows.first.inner_text()

    page.get_by_role("link", name="4477*****123").click()
    page.get_by_role("heading", name="Call from 4477*****123").wait_for()
    turns = page.locator("ol.transcript li")
    assert turns.count() == 3
    assert "Please key in your PIN" in turns.nth(0).inner_text()
    assert "caller" in turns.nth(1).inner_text() and PIN not in page.content()
    assert "Caller asks where the new card is." in page.content()
    latencies = page.get_by_role("region", name="Stage latencies").locator("tbody tr")
    assert latencies.count() == 2
    assert serious_axe_violations(page) == [] and blocked == []
    photograph(page, "call")
    assert "Whisper" in latencies.nth(1).inner_text() and "610.0" in latencies.nth(1).inner_text()

    player = page.get_by_role("region", name="Recording").locator("audio[controls][preload=none]")
    assert player.count() == 1
    source = player.get_attribute("src") or ""
    assert source == f"/calls/{urllib.parse.quote(TRANSFERRED_ID)}/recording"
    # The player loads it same-origin with the session cookie, within the page's CSP.
    duration = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const audio = document.querySelector('audio');
            audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
            audio.addEventListener('error', () => reject(new Error('audio error ' + audio.error.code)));
            audio.load();
        })"""
    )
    assert abs(duration - 4096 / 8000) < 0.01
    download = page.request.get(f"{console.url}{source}")
    assert download.status == 200 and download.body()[:4] == b"RIFF"
    assert download.headers["content-type"] == "audio/wav" and download.headers["cache-control"] == "no-store"
    assert download.headers["content-disposition"].startswith('attachment; filename="call-')
    assert blocked == []
    downloads = console.call(lambda ctx: _recording_downloads(ctx, people.workspace))
    assert downloads and set(downloads) == {(people.admin, "GET /calls/{call_id:path}/recording")}


def test_a_viewer_reads_calls_and_a_call_id_with_a_slash_opens(
    page: Any, console: ConsoleServer, people: People, saved_calls: None
) -> None:
    sign_in(page, console, people.viewer, next_path="/calls")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Calls").count() == 1
    assert page.locator("main form[method=post]").count() == 0  # nothing on the page writes
    page.goto(f"{console.url}/calls/{urllib.parse.quote(COMPLETED_ID, safe='')}")
    page.get_by_role("heading", name="Call from 4420****555").wait_for()
    assert page.get_by_text("Nothing was said on this call.").count() == 1
    missing = page.request.get(f"{console.url}/calls/no-such-call")
    assert missing.status == 404 and "Request id" in missing.text()
    data = page.request.get(f"{console.url}/calls?format=json").json()
    assert data["total"] == 2 and {row["end_reason"] for row in data["calls"]} == {"transferred", "completed"}
    assert {row["call_id"]: row["recorded"] for row in data["calls"]} == {TRANSFERRED_ID: True, COMPLETED_ID: False}
    assert "recordings" not in str(data)  # never the server's path


def test_a_viewer_sees_that_a_call_was_recorded_but_gets_no_player(
    page: Any, console: ConsoleServer, people: People, saved_calls: None
) -> None:
    sign_in(page, console, people.viewer, next_path="/calls")
    page.get_by_role("link", name="4477*****123").click()
    page.get_by_role("heading", name="Call from 4477*****123").wait_for()
    recording = page.get_by_role("region", name="Recording")
    assert "operators and admins can listen" in recording.inner_text()
    assert page.locator("audio").count() == 0 and recording.get_by_role("link").count() == 0
    refused = page.request.get(f"{console.url}/calls/{urllib.parse.quote(TRANSFERRED_ID)}/recording")
    assert refused.status == 403 and refused.body()[:4] != b"RIFF"
    before = console.call(lambda ctx: _recording_downloads(ctx, people.workspace))
    assert (people.viewer, "GET /calls/{call_id:path}/recording") not in before


LIVE_ID = "live-7c1e@pbx.example"
LIVE_CALLER = "4479****777"


async def _save_live(ctx: AppContext, workspace_slug: str, started: float, turns: list[dict[str, str]]) -> None:
    async with ctx.db.session() as db:
        workspace = await auth.get_workspace(db, workspace_slug)
        await calls.save_live_call(db, workspace.id, LIVE_ID, LIVE_CALLER, started, DialogueOutcome(transcript=turns))


async def _end_live(ctx: AppContext, workspace_slug: str, started: float, turns: list[dict[str, str]]) -> None:
    async with ctx.db.session() as db:
        workspace = await auth.get_workspace(db, workspace_slug)
        record = CallRecord(call_id=LIVE_ID, caller=LIVE_CALLER, started=started, ended=time.time())
        await calls.save_call(db, workspace.id, record, DialogueOutcome(end_reason="completed", transcript=turns))


async def _forget_live(ctx: AppContext) -> None:
    from sqlalchemy import delete

    from opsdesk.voice.calls.models import VoiceCall

    async with ctx.db.session() as db:
        await db.execute(delete(VoiceCall).where(VoiceCall.call_id == LIVE_ID))


def test_a_live_call_shows_under_live_now_and_its_new_turns_appear_without_a_reload(
    page: Any, console: ConsoleServer, people: People, saved_calls: None
) -> None:
    started = time.time() - 12
    turns = [{"who": "bot", "text": "Hello, and welcome to the bank's telephone service."}]
    console.call(lambda ctx: _save_live(ctx, people.workspace, started, turns))
    try:
        blocked = csp_violations(page)
        sign_in(page, console, people.viewer, next_path="/calls")
        live = page.get_by_role("region", name="Live now")
        live.get_by_role("link", name=LIVE_CALLER).wait_for()
        assert "welcome to the bank" in live.inner_text() and "s so far" in live.inner_text()
        assert page.locator("table.calls tbody tr").count() == 2  # the ended calls only
        assert serious_axe_violations(page) == []
        page.evaluate("() => { window.notReloaded = true; }")

        turns += [
            {"who": "caller", "text": mask_caller_text("44763531", "digits")},
            {"who": "bot", "text": "Please key in your four digit telephone banking PIN."},
        ]
        console.call(lambda ctx: _save_live(ctx, people.workspace, started, turns))
        live.get_by_text("telephone banking PIN").wait_for(timeout=10_000)
        assert "44763531" not in live.inner_text()
        assert page.evaluate("() => window.notReloaded") is True

        live.get_by_role("link", name=LIVE_CALLER).click()
        page.get_by_role("heading", name=f"Call from {LIVE_CALLER}").wait_for()
        transcript = page.get_by_role("region", name=re.compile("Transcript"))
        assert transcript.locator("li").count() == 3 and "live" in transcript.inner_text()
        page.evaluate("() => { window.notReloaded = true; }")
        turns.append({"who": "caller", "text": "where is my new card"})
        console.call(lambda ctx: _save_live(ctx, people.workspace, started, turns))
        transcript.get_by_text("where is my new card").wait_for(timeout=10_000)

        console.call(lambda ctx: _end_live(ctx, people.workspace, started, turns))
        page.locator("#call-transcript .badge").wait_for(state="detached", timeout=10_000)  # it stops following
        assert transcript.locator("li").count() == 4 and page.evaluate("() => window.notReloaded") is True
        assert serious_axe_violations(page) == [] and blocked == []

        page.goto(f"{console.url}/calls")
        assert "No call is going on" in page.get_by_role("region", name="Live now").inner_text()
        assert page.locator("table.calls tbody tr").count() == 3
    finally:
        console.call(_forget_live)
