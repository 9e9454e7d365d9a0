"""The banking desk end to end over SIP: sipp places the call, the caller keys a card number and the PIN as RFC 4733
events and asks where the new card is (espeak-ng speech as PCMU); Silero VAD and Whisper hear it, the banking flow
answers, espeak-ng speaks, and our own recogniser transcribes what came back over RTP. And a caller who keys three
wrong PINs is handed to the operator by REFER."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from opsdesk.voice.audio import resample, ulaw_decode
from opsdesk.voice.banking.dialogue.processor import BankingDialogue, DialogueTimers
from opsdesk.voice.desk import BankingDesk, open_banking_desk
from opsdesk.voice.gateway import CallRecord, GatewayConfig, SpeechEngines, VoiceGateway
from opsdesk.voice.pipeline.processor import FrameProcessor
from opsdesk.voice.pipeline.processors import CallState
from opsdesk.voice.sip.config import UserAgentConfig
from opsdesk.voice.speech.asr import recognizer
from opsdesk.voice.speech.tts import synthesizer
from opsdesk.voice.speech.vad import SileroVad
from tests.voice.banking.dialogue_helpers import customer
from tests.voice.telephony.peers import SIPP, MediaPeer, run_sipp, silence, spoken_parts

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")


async def _speech(text: str) -> np.ndarray:
    engine = synthesizer("espeak-ng", output_rate=8000)
    pcm = b"".join([chunk async for chunk in engine.synthesize(text)])
    return np.frombuffer(pcm, dtype="<i2")


def _words(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", text.lower())


@pytest.fixture
async def desk() -> AsyncIterator[BankingDesk]:
    made = await open_banking_desk(timers=DialogueTimers(silence_seconds=30))
    yield made
    await made.aclose()


@pytest.mark.slow  # about 35 s: the whole call with Whisper in it
async def test_card_delivery_status_call_with_dtmf_authentication(desk: BankingDesk, tmp_path: Path) -> None:
    asr = recognizer("whisper-tiny.en")
    engines = SpeechEngines(vad=lambda: SileroVad(8000), asr=asr, tts=synthesizer("espeak-ng", output_rate=8000))
    dialogues: list[FrameProcessor] = []
    stored: list[tuple[CallRecord, FrameProcessor | None]] = []

    def dialogue(state: CallState, config: GatewayConfig) -> FrameProcessor:
        made = desk.dialogue(state, config)
        dialogues.append(made)
        return made

    async def record(call: CallRecord, stage: FrameProcessor | None) -> None:
        stored.append((call, stage))

    config = GatewayConfig(sip=UserAgentConfig(port=0), rtp_ports=(44000, 46000))
    gateway = VoiceGateway(config, engines, dialogue=dialogue, on_record=record)
    await gateway.start()
    alice = customer()
    question = np.concatenate([await _speech("Where is my new card?"), silence(1.5)])
    media = await MediaPeer().open()
    try:
        call = asyncio.create_task(
            run_sipp("call", gateway.port, tmp_path, pause_ms=32000, variables={"mport": str(media.port)}, timeout=60)
        )
        await media.wait_for_media()
        await asyncio.sleep(1.0)
        await media.send_digits(alice.card + "#")  # keyed over the prompt: it stops, the number is taken
        await asyncio.sleep(2.5)
        await media.send_digits(alice.pin + "#")
        await asyncio.sleep(4.0)
        asked_at = len(media.packets)
        await media.send_audio(question)
        result = await call
    finally:
        media.close()
        await gateway.stop()

    assert result.returncode == 0, result.explain()
    stage = dialogues[0]
    assert isinstance(stage, BankingDialogue)
    assert stage.outcome.auth == "passed" and stage.outcome.intents[:1] == ["card_delivery"], stage.outcome
    call_record, _ = stored[0]
    assert any("card" in _words(text) for text in call_record.transcripts), call_record.transcripts
    assert alice.card not in repr(call_record) and alice.pin not in repr(stage.outcome.transcript)

    ordered = sorted(media.packets[asked_at:], key=lambda item: item.packet.sequence)
    answer = np.concatenate([ulaw_decode(item.packet.payload) for item in ordered])
    listener = recognizer("whisper-base")  # the stronger engine checks what the caller heard
    whole = _words(await listener.transcribe(resample(answer, 8000, 16000).tobytes()))
    # Whisper can loop over a long answer ("ending 8611111…") or lose a word in a short part: heard both ways
    parts = spoken_parts(answer)
    by_part = " ".join([_words(await listener.transcribe(resample(part, 8000, 16000).tobytes())) for part in parts])
    heard = f"{whole} | {by_part}"
    # "Your new card ending 0 8 6 1 was sent with DPD on … It should arrive by … Is there anything else …?"
    delivered = next(card for card in alice.record["cards"] if card["delivery"])
    assert "new card" in heard and "arrive" in heard, heard
    assert delivered["number"][-4:] in heard.replace(" ", "") or "dpd" in heard, heard


async def test_three_wrong_pins_keyed_over_sip_transfer_the_call_by_refer(desk: BankingDesk, tmp_path: Path) -> None:
    dialogues: list[FrameProcessor] = []

    def dialogue(state: CallState, config: GatewayConfig) -> FrameProcessor:
        dialogues.append(desk.dialogue(state, config))
        return dialogues[-1]

    config = GatewayConfig(
        sip=UserAgentConfig(port=0), rtp_ports=(44000, 46000), operator_uri="sip:operator@127.0.0.1:5999"
    )
    gateway = VoiceGateway(config, SpeechEngines(tts=synthesizer("espeak-ng", output_rate=8000)), dialogue=dialogue)
    await gateway.start()
    media = await MediaPeer().open()
    try:
        call = asyncio.create_task(run_sipp("transfer", gateway.port, tmp_path, variables={"mport": str(media.port)}))
        await media.wait_for_media()
        await media.send_digits(customer().card + "#")
        for wrong in ("0000", "1111", "9999"):
            await asyncio.sleep(1.0)
            await media.send_digits(wrong + "#")
        result = await call
        record = (await gateway.wait_for_records(1))[-1]
    finally:
        media.close()
        await gateway.stop()

    assert result.returncode == 0, result.explain()
    assert record.transferred and record.outcome == "transferred" and record.keys_pressed == 17 + 15
    stage = dialogues[0]
    assert isinstance(stage, BankingDialogue)
    assert stage.outcome.auth == "failed" and stage.outcome.end_reason == "wrong PIN three times"
    assert stage.outcome.transcript.count({"who": "caller", "text": "[4 keys]"}) == 3


async def test_a_refused_transfer_ends_the_call_instead_of_leaving_the_caller_waiting(
    desk: BankingDesk, tmp_path: Path
) -> None:
    config = GatewayConfig(
        sip=UserAgentConfig(port=0), rtp_ports=(44000, 46000), operator_uri="sip:operator@127.0.0.1:5999"
    )
    gateway = VoiceGateway(config, SpeechEngines(), dialogue=desk.dialogue)
    await gateway.start()
    media = await MediaPeer().open()
    try:
        call = asyncio.create_task(
            run_sipp("transfer_refused", gateway.port, tmp_path, variables={"mport": str(media.port)})
        )
        await media.wait_for_media()
        await media.send_digits("0#")  # garbage three times: the desk hands over
        await media.send_digits("1#")
        await media.send_digits("#")
        result = await call
        record = (await gateway.wait_for_records(1))[-1]
    finally:
        media.close()
        await gateway.stop()

    assert result.returncode == 0, result.explain()
    assert not record.transferred and record.outcome == "transfer failed"
