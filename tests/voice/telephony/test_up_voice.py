"""`opsdesk up --voice-port`: the voice gateway inside the main process, answering beside the HTTP API, hearing
spoken requests once its recogniser has loaded in the background, keeping recordings when asked, and hanging up its
calls when opsdesk stops."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from opsdesk.voice.audio import read_wav, resample
from opsdesk.voice.banking.dialogue import replies
from opsdesk.voice.sip.client import place_call
from opsdesk.voice.speech.asr import recognizer
from opsdesk.voice.speech.tts import synthesizer
from tests.ops.processes import opsdesk_env, run_cli
from tests.voice.telephony.peers import SIPP, MediaPeer, free_port, run_sipp, silence

pytestmark = [pytest.mark.slow, pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")]


async def _ready(url: str, server: asyncio.subprocess.Process, timeout: float = 240) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(timeout / 0.25)):
            if server.returncode is not None:
                raise AssertionError(f"opsdesk up exited {server.returncode}")
            try:
                if (await client.get(f"{url}/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError("opsdesk up never became ready")


def _text(path: Path) -> str:
    return path.read_text(errors="replace")


async def _in_log(path: Path, text: str, server: asyncio.subprocess.Process, timeout: float = 240) -> None:
    for _ in range(int(timeout / 0.25)):
        if text in _text(path):
            return
        if server.returncode is not None:
            raise AssertionError(f"opsdesk up exited {server.returncode}")
        await asyncio.sleep(0.25)
    raise AssertionError(f"never logged {text!r}:\n{_text(path)}")


async def _stop(server: asyncio.subprocess.Process) -> int:
    """SIGTERM, and the exit code (-9 when it had to be killed after a minute)."""
    if server.returncode is None:
        server.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(server.wait(), 60)
        except TimeoutError:
            server.kill()
    return await server.wait()


async def _speech(text: str) -> np.ndarray:
    engine = synthesizer("espeak-ng", output_rate=8000)
    return np.frombuffer(b"".join([chunk async for chunk in engine.synthesize(text)]), dtype="<i2")


async def test_opsdesk_up_hears_a_spoken_request_records_the_call_and_hangs_up_calls_when_it_stops(
    tmp_path: Path,
) -> None:
    http, sip = free_port(), free_port()
    recordings = tmp_path / "recordings"
    env = opsdesk_env(tmp_path / "data", OPSDESK_VOICE_RECORDINGS_DIR=str(recordings))  # the default recogniser
    log_path = tmp_path / "up.log"
    log = log_path.open("wb")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opsdesk.cli", "up", "--host", "127.0.0.1", "--port", str(http), "--voice-port", str(sip),
        env=env, stdout=log, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{http}"
    try:
        await _ready(url, server)
        await _in_log(log_path, "Voice recogniser whisper-tiny.en ready", server)
        key = (await asyncio.to_thread(run_cli, ["apikey", "create", "--role", "admin", "--quiet"], env)).split()[-1]
        prompts = await _speech(f"{replies.GREETING} {replies.ASK_NUMBER}")
        request = await _speech("I want to speak to an agent.")
        speech = np.concatenate([silence(len(prompts) / 8000 + 1.0), request, silence(1.0)])  # after the prompts
        outcome = await place_call("127.0.0.1", sip, speech.tobytes(), listen_seconds=10.0)

        heard = np.frombuffer(bytes(outcome.heard), dtype="<i2")
        said = await recognizer("whisper-tiny.en").transcribe(resample(heard, 8000, 16000).tobytes())
        assert "colleague" in re.sub(r"[^a-z ]", "", said.lower()), said  # replies.TRANSFER: it heard the request
        async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            listed = (await client.get("/api/v1/workspaces/default/voice/calls")).json()
            assert listed["total"] == 1 and listed["items"][0]["intents"] == ["agent"], listed
            call = (await client.get(f"/api/v1/workspaces/default/voice/calls/{listed['items'][0]['call_id']}")).json()
        assert any(line["who"] == "caller" and "agent" in line["text"].lower() for line in call["transcript"]), call
        kept = list(recordings.glob("*.wav"))
        assert len(kept) == 1 and read_wav(kept[0]).samples.size >= speech.size * 0.9  # what the caller said

        # A call in progress when opsdesk stops is hung up (BYE), and the loaded recogniser does not hold up the exit.
        media = await MediaPeer().open()
        call = asyncio.create_task(run_sipp("bye_from_gateway", sip, tmp_path, variables={"mport": str(media.port)}))
        await media.wait_for_media()
        server.send_signal(signal.SIGTERM)
        result = await call
        media.close()
        assert result.returncode == 0, result.explain()
        assert await asyncio.wait_for(server.wait(), 60) in (0, 128 + signal.SIGTERM)  # as `opsdesk up` exits on it
    finally:
        await _stop(server)
        log.close()


async def test_opsdesk_up_serves_without_the_voice_gateway_when_its_port_is_taken(
    tmp_path: Path, database_url: str
) -> None:
    import socket

    http = free_port()
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    sip = taken.getsockname()[1]
    log_path = tmp_path / "up.log"
    log = log_path.open("wb")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opsdesk.cli", "up", "--host", "127.0.0.1", "--port", str(http), "--voice-port", str(sip),
        env=opsdesk_env(tmp_path / "data", OPSDESK_DATABASE_URL=database_url),  # no embedded server to set up
        stdout=log, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await _ready(f"http://127.0.0.1:{http}", server)
        assert "no voice gateway" in log_path.read_text(errors="replace")
    finally:
        taken.close()
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), 60)
            except TimeoutError:
                server.kill()
                await server.wait()
        log.close()
