"""The Calls page's "Call the desk" panel in Chromium with a fake microphone (a silent WAV): the call reaches the desk
over its WebSocket with the console's session, the desk's greeting is played, the keypad keys Alice's account number
and PIN, hang-up ends the call and the list shows it with its end reason and identity check, its transcript masked;
the page's sound code resamples and buffers as it says; another site's page cannot open the socket with our session.
A microphone that asks for an agent (espeak-ng) is transferred, and the case is in the operator inbox; a browser
without AudioWorklet calls through the ScriptProcessor fallback.

The calls are made in the admin's second workspace (globex), so the acme call list other tests count stays as theirs."""

from __future__ import annotations

import contextlib
import re
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opsdesk.voice.audio.resample import resample
from opsdesk.voice.audio.wav import decode_wav
from opsdesk.voice.banking.demo import DEMO_CALLERS
from tests.web.conftest import ConsoleServer, People, chromium_or_skip, new_page, sign_in
from tests.web.test_calls_page import csp_violations, serious_axe_violations

pytestmark = pytest.mark.slow  # the first call loads the speech engines (10-60 s on a loaded machine)
ACCOUNT = "44763531"  # Alice Morgan's current account (docs/voice.md, demo bank)
PIN = DEMO_CALLERS[0].pin
CONNECT_MS = 240_000


_MIC_RATE = 48_000


def _wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_MIC_RATE)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


def _silent_wav(path: Path) -> Path:
    return _wav(path, np.zeros(_MIC_RATE, dtype="<i2"))


def _spoken_wav(path: Path, words: str) -> Path:
    """`words` as espeak-ng says them, three seconds of silence each side (Chromium plays the file in a loop)."""
    spoken = decode_wav(subprocess.run(["espeak-ng", "--stdout", words], capture_output=True, check=True).stdout)
    quiet = np.zeros(3 * _MIC_RATE, dtype="<i2")
    return _wav(path, np.concatenate([quiet, resample(spoken.samples, spoken.rate, _MIC_RATE), quiet]))


@contextlib.contextmanager
def _browser_hearing(browser: Any, wav: Path) -> Iterator[Any]:
    """A second Chromium whose microphone is `wav` and whose permission prompt says yes by itself."""
    args = [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    launched = browser.browser_type.launch(executable_path=chromium_or_skip(), args=args)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="module")
def media_browser(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with _browser_hearing(browser, _silent_wav(tmp_path_factory.mktemp("mic") / "silence.wav")) as launched:
        yield launched


@pytest.fixture
def media_page(media_browser: Any) -> Iterator[Any]:
    with new_page(media_browser, height=1000) as opened:
        yield opened


def _to_other_workspace(page: Any, console: ConsoleServer, people: People) -> None:
    sign_in(page, console, people.admin)
    page.get_by_label("Workspace").select_option(people.other_workspace)
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("heading", name=f"Workspace {people.other_workspace}").wait_for()
    page.goto(f"{console.url}/calls")


def _frames_in(page: Any) -> int:
    return int(page.locator("[data-desk-call]").get_attribute("data-frames-in") or 0)


def _key(page: Any, keys: str) -> None:
    pad = page.get_by_role("group", name="Keypad")
    for key in keys:
        pad.get_by_role("button", name=key, exact=True).click()


def _listed_call(page: Any, call_id: str) -> Any:
    """The call's row in the refreshed calls list (newest first)."""
    rows = page.locator("#calls-list table.calls tbody tr")
    assert rows.first.get_by_role("link").get_attribute("href") == f"/calls/{call_id}"
    return rows.first


def _start_call(page: Any) -> Any:
    """Clicks "Call the desk" and waits until the desk has said it took the call; returns the panel."""
    page.get_by_role("button", name="Call the desk", exact=True).click()
    page.locator("[data-desk-call][data-call-state=in-call]").wait_for(timeout=CONNECT_MS)
    return page.locator("[data-desk-call]")


def _wait_for_speech_after(page: Any, frames: int, seconds: float) -> None:
    """Until the desk has sent `seconds` more of its voice than `frames` (20 ms each): it answered."""
    page.wait_for_function(
        "([want]) => Number(document.querySelector('[data-desk-call]').getAttribute('data-frames-in') || 0) >= want",
        arg=[frames + int(seconds * 50)],
        timeout=60_000,
    )


def test_a_call_from_the_browser_keys_an_account_and_pin_and_is_listed_when_hung_up(
    media_page: Any, console: ConsoleServer, people: People
) -> None:
    page = media_page
    blocked = csp_violations(page)
    _to_other_workspace(page, console, people)
    panel = page.locator("[data-desk-call]")
    status = panel.get_by_role("status")
    assert status.inner_text() == "Not in a call."
    assert page.get_by_role("group", name="Keypad").get_by_role("button", name="5").is_disabled()

    _start_call(page)
    assert status.inner_text().startswith("In call")
    call_id = panel.get_attribute("data-call-id")
    assert call_id is not None and call_id.startswith("web-")  # the desk's `started` event
    assert (
        panel.get_attribute("data-sound") == "worklet"
    )  # Chromium has AudioWorklet: the sound is off the page's thread
    # The greeting is heard: frames arrive and the player plays them out.
    page.wait_for_function(
        "() => Number(document.querySelector('[data-desk-call]').getAttribute('data-heard-ms') || 0) > 800",
        timeout=60_000,
    )
    assert serious_axe_violations(page) == []  # the panel in a call: keypad enabled, status live

    frames = _frames_in(page)
    _key(page, ACCOUNT + "#")
    _wait_for_speech_after(page, frames, 1.0)  # "please key your PIN"
    frames = _frames_in(page)
    _key(page, PIN)
    _wait_for_speech_after(page, frames, 1.0)  # the desk greets Alice by name and offers its services
    assert panel.get_attribute("data-keys-sent") == str(len(ACCOUNT) + 1 + len(PIN))
    assert int(panel.get_attribute("data-sent-ms") or 0) >= 1000  # the microphone went up the socket

    page.get_by_role("button", name="Hang up").click()
    page.locator("[data-desk-call][data-call-state=ended]").wait_for(timeout=30_000)
    assert status.inner_text() == "Call ended: caller hung up."
    assert page.get_by_role("button", name="Call the desk", exact=True).is_enabled()
    page.locator("[data-desk-call][data-list-refreshed]").wait_for()
    listed = _listed_call(page, call_id)
    row = listed.inner_text()
    assert "web:" in row and "caller hung up" in row and "passed" in row

    listed.get_by_role("link").click()
    page.get_by_role("heading", name=re.compile("^Call from web:")).wait_for()
    assert call_id in page.get_by_role("region", name="Summary").inner_text()
    transcript = page.get_by_role("region", name="Transcript").inner_text()
    assert "Thank you, Alice" in transcript  # the PIN was taken
    assert ACCOUNT not in transcript and PIN not in transcript  # keyed entries were masked before they were kept
    assert blocked == []


def test_the_page_sound_code_resamples_to_8_khz_and_buffers_the_desks_frames(
    page: Any, console: ConsoleServer, people: People
) -> None:
    sign_in(page, console, people.viewer, next_path="/calls")
    result = page.evaluate(
        """() => {
        const A = window.DeskAudio;
        const tone = (freq) => {
            const rate = 48000, x = new Float32Array(rate);
            for (let i = 0; i < rate; i++) { x[i] = 0.5 * Math.sin(2 * Math.PI * freq * i / rate); }
            const down = new A.Downsampler(rate), frames = [];
            for (let i = 0; i < rate; i += 128) { frames.push(...down.push(x.subarray(i, i + 128))); }
            let sum = 0, n = 0;
            frames.slice(5).forEach((f) => f.forEach((v) => { sum += v * v; n++; }));
            return {frames: frames.length, sizes: [...new Set(frames.map((f) => f.length))],
                    rms: Math.sqrt(sum / n) / 32768};
        };
        const buffer = new A.JitterBuffer(48000, 60, 500), frame = new Int16Array(160).fill(16384);
        const out = new Float32Array(128);
        buffer.push(frame); buffer.push(frame); buffer.pull(out);
        const silentBeforeTarget = out.every((v) => v === 0);
        buffer.push(frame);
        let loud = 0;
        for (let q = 0; q < 40; q++) { buffer.pull(out); loud += out.filter((v) => Math.abs(v - 0.5) < 1e-6).length; }
        const afterDry = {played: buffer.played, dry: buffer.runsDry, playing: buffer.playing};
        for (let k = 0; k < 60; k++) { buffer.push(frame); }
        return {voice: tone(1000), above: tone(6000), silentBeforeTarget, loudMs: loud / 48, afterDry,
                queuedMs: buffer.count / 8, dropped: buffer.dropped};
    }"""
    )
    voice, above = result["voice"], result["above"]
    assert voice["frames"] == 50 and voice["sizes"] == [160]  # one second: fifty 20 ms frames of 160 samples
    assert 0.34 < voice["rms"] < 0.36  # a 1 kHz tone at amplitude 0.5 keeps its level
    assert above["rms"] < 0.001  # 6 kHz would fold onto 2 kHz: filtered out instead
    assert result["silentBeforeTarget"]  # 40 ms queued: still waiting for 60
    assert 59 <= result["loudMs"] <= 60  # the three frames played out, then silence
    assert result["afterDry"] == {"played": 479, "dry": 1, "playing": False}
    assert result["queuedMs"] <= 500 and result["dropped"] > 0  # a flood is cut back, not played late


def test_another_sites_page_cannot_open_the_desk_socket_with_our_session(
    page: Any, console: ConsoleServer, people: People
) -> None:
    sign_in(page, console, people.admin)
    socket_url = console.url.replace("http://", "ws://") + f"/api/v1/workspaces/{people.workspace}/voice/ws"
    page.route("http://evil.test/", lambda route: route.fulfill(body="<p>hi</p>", content_type="text/html"))
    page.goto("http://evil.test/")
    outcome = page.evaluate(
        """(url) => new Promise((done) => {
            const socket = new WebSocket(url);
            socket.onopen = () => { socket.close(); done("open"); };
            socket.onclose = (event) => done("closed " + event.code);
        })""",
        socket_url,
    )
    assert outcome == "closed 1006"  # refused at the handshake (403)


def test_without_a_microphone_the_panel_says_why_and_can_try_again(
    page: Any, console: ConsoleServer, people: People
) -> None:
    # The package's Chromium has no fake microphone and no say-yes flag: getUserMedia is refused.
    sign_in(page, console, people.viewer, next_path="/calls")
    page.get_by_role("button", name="Call the desk", exact=True).click()
    page.locator("[data-desk-call][data-call-state=failed]").wait_for()
    assert (
        page.locator("[data-desk-call]")
        .get_by_role("status")
        .inner_text()
        .startswith("The microphone is not available (")
    )
    assert page.get_by_role("button", name="Call the desk", exact=True).is_enabled()
    assert page.get_by_role("button", name="Hang up").is_disabled()


@pytest.fixture(scope="module")
def asking_browser(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    words = "I want to speak to an agent, a real person please."
    wav = _spoken_wav(tmp_path_factory.mktemp("mic") / "agent.wav", words)
    with _browser_hearing(browser, wav) as launched:
        yield launched


def test_a_caller_who_asks_for_an_agent_is_transferred_and_the_case_is_in_the_inbox(
    asking_browser: Any, console: ConsoleServer, people: People
) -> None:
    with new_page(asking_browser, height=1000) as page:
        _to_other_workspace(page, console, people)
        panel = _start_call(page)
        call_id = panel.get_attribute("data-call-id")
        assert call_id is not None
        over = "[data-desk-call][data-call-state=transferred], [data-desk-call][data-call-state=ended]"
        page.locator(over).wait_for(timeout=CONNECT_MS)  # the microphone's words repeat until the desk acts on them
        status = panel.get_by_role("status").inner_text()
        assert status.startswith("Transferred to a person (caller asked for a person)"), status
        assert "the summary is in the operator inbox" in status
        assert page.get_by_role("button", name="Call the desk", exact=True).is_enabled()
        page.locator("[data-desk-call][data-list-refreshed]").wait_for()
        row = _listed_call(page, call_id).inner_text()
        assert "transferred" in row and "agent" in row  # the Transfer column and the intent

        page.goto(f"{console.url}/inbox")
        case = page.locator("li[data-case]", has_text="transferred: caller asked for a person")
        assert case.count() == 1
        summary = case.get_by_role("link").inner_text()
        assert summary.startswith("Voice call from web:") and "Intents: agent" in summary


def test_without_audioworklet_the_call_goes_through_the_script_processor(
    media_page: Any, console: ConsoleServer, people: People
) -> None:
    page = media_page
    # As in a browser without AudioWorklet: both names the page checks are gone before its scripts run.
    page.add_init_script("delete window.AudioWorkletNode; delete BaseAudioContext.prototype.audioWorklet;")
    _to_other_workspace(page, console, people)
    panel = _start_call(page)
    assert panel.get_attribute("data-sound") == "script-processor"
    page.wait_for_function(  # the greeting is heard through the jitter buffer on the page's thread
        "() => Number(document.querySelector('[data-desk-call]').getAttribute('data-heard-ms') || 0) > 800",
        timeout=60_000,
    )
    page.wait_for_function(  # and the microphone goes up the socket in 20 ms frames
        "() => Number(document.querySelector('[data-desk-call]').getAttribute('data-sent-ms') || 0) >= 1000",
        timeout=60_000,
    )
    page.get_by_role("button", name="Hang up").click()
    page.locator("[data-desk-call][data-call-state=ended]").wait_for(timeout=30_000)
    assert panel.get_by_role("status").inner_text() == "Call ended: caller hung up."
