"""A spoken call end to end with the real engines: the caller's words (espeak-ng speech sent as PCMU) go through
Silero VAD and Whisper, the stand-in dialogue answers, espeak-ng speaks it back, and our own recogniser transcribes
what came back over RTP."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import numpy as np
import pytest

from opsdesk.voice.audio import resample
from opsdesk.voice.gateway import SpeechEngines
from opsdesk.voice.speech.asr import recognizer
from opsdesk.voice.speech.tts import synthesizer
from opsdesk.voice.speech.vad import SileroVad
from tests.voice.telephony.conftest import StartDesk
from tests.voice.telephony.peers import SIPP, MediaPeer, run_sipp, silence

pytestmark = [pytest.mark.slow, pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")]


async def _speech(text: str) -> np.ndarray:
    engine = synthesizer("espeak-ng", output_rate=8000)
    pcm = b"".join([chunk async for chunk in engine.synthesize(text)])
    return np.frombuffer(pcm, dtype="<i2")


def _words(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower())


async def test_the_caller_hears_back_what_the_recogniser_understood(start_desk: StartDesk, tmp_path: Path) -> None:
    asr = recognizer("whisper-tiny.en")
    engines = SpeechEngines(vad=lambda: SileroVad(8000), asr=asr, tts=synthesizer("espeak-ng", output_rate=8000))
    desk = await start_desk(greeting="")
    desk.gateway.engines = engines
    media = await MediaPeer().open()
    call = asyncio.create_task(
        run_sipp("call", desk.port, tmp_path, pause_ms=9000, variables={"mport": str(media.port)})
    )
    await media.wait_for_media()
    await media.send_audio(np.concatenate([await _speech("Where is my new card?"), silence(1.5)]))
    result = await call
    media.close()

    assert result.returncode == 0, result.explain()
    record = (await desk.gateway.wait_for_records(1))[-1]
    assert any("card" in _words(text) for text in record.transcripts), record.transcripts
    reply = _words(await asr.transcribe(resample(media.audio(), 8000, 16000).tobytes()))
    assert reply.startswith("you") and "new card" in reply, reply  # "You said: where is my new card"
    stages = {timing.stage for timing in record.timings}
    assert {"vad", "asr", "dialogue", "tts", "output"} <= stages
