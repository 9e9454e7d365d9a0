"""The TTS stage makes speech no faster than the call plays it: the next sentence only when the queued audio runs
low, a reply on a quiet line at once, and a barge-in drops the sentences not yet made. Real espeak-ng, a real
RTP session whose pacer sends only when the test runs its slots (on a clock of the test's own)."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from opsdesk.voice.pipeline.frames import BotText, Frame, Interruption
from opsdesk.voice.pipeline.processor import Pipeline
from opsdesk.voice.pipeline.processors import CallState, MediaOutput, TtsProcessor
from opsdesk.voice.rtp.pacer import PTIME, RtpPacer
from opsdesk.voice.rtp.session import PortPool, RtpSession
from opsdesk.voice.speech.tts import EspeakSynthesizer
from tests.voice.telephony.test_pacer import FakeTime

FIRST = "Your new card ending 4 8 2 1 was sent with Royal Mail on Monday the 7th of December."
SECOND = "It should arrive by Thursday the 10th of December, before noon."
THIRD = "Is there anything else I can help you with today?"


class CountingEspeak(EspeakSynthesizer):
    """espeak-ng at the phone's rate, noting each sentence as its process starts."""

    def __init__(self) -> None:
        super().__init__(output_rate=8000)
        self.started: list[str] = []

    def _speak(self, sentence: str):  # type: ignore[no-untyped-def]
        self.started.append(sentence)
        return super()._speak(sentence)


@dataclass
class Call:
    tts: CountingEspeak
    session: RtpSession
    pacer: RtpPacer
    stage: TtsProcessor
    pipeline: Pipeline
    out: list[Frame]

    def play(self, seconds: float) -> None:
        """The caller hears `seconds` of what is queued (the pacer's slots, on the test's clock)."""
        self.pacer.run_slots(math.ceil(seconds / PTIME))


async def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    time = FakeTime()
    pacer = RtpPacer(threaded=False, clock=time.clock, sleep=time.sleep)
    session = RtpSession(
        remote=peer.getsockname(), codec=0, dtmf_payload_type=None, on_audio=lambda _: None,
        on_dtmf=lambda _: None, pacer=pacer,
    )  # fmt: skip
    await session.open("127.0.0.1", PortPool(47000, 47100))
    session.start()
    tts = CountingEspeak()
    output = MediaOutput(session, CallState(), on_hangup=lambda _: None, on_transfer=lambda _: None)
    stage = TtsProcessor(tts, backlog=lambda: output.queued_seconds, low_water=1.0)
    out: list[Frame] = []
    pipeline = Pipeline([stage, output], sink=out.append)
    pipeline.start()
    try:
        yield Call(tts, session, pacer, stage, pipeline, out)
    finally:
        await pipeline.stop()
        await session.close()
        peer.close()


async def test_a_replys_next_sentence_is_made_only_when_its_queued_audio_runs_low(call: Call) -> None:
    call.pipeline.put(BotText(text=f"{FIRST} {SECOND}", utterance=1))
    call.pipeline.put(BotText(text=THIRD, utterance=1))
    await _until(lambda: call.session.queued_seconds > 3.0)
    await asyncio.sleep(0.3)  # time enough to start the next sentence, were the stage not waiting
    assert call.tts.started == [FIRST]
    call.play(call.session.queued_seconds - 1.5)  # 1.5 s left: still more than the low-water mark
    await asyncio.sleep(0.3)
    assert call.tts.started == [FIRST]
    call.play(0.6)  # 0.9 s left
    await _until(lambda: call.tts.started == [FIRST, SECOND])
    await _until(lambda: call.session.queued_seconds > 2.0)
    call.play(call.session.queued_seconds - 0.9)
    await _until(lambda: call.tts.started == [FIRST, SECOND, THIRD])  # the next BotText of the reply waited too
    assert call.stage.waits == 2


async def test_a_reply_on_a_quiet_line_is_made_at_once_and_one_behind_a_reply_still_playing_waits(call: Call) -> None:
    call.pipeline.put(BotText(text=FIRST, utterance=1))
    await _until(lambda: call.session.queued_seconds > 3.0)  # made at once: nothing was queued
    call.pipeline.put(BotText(text=THIRD, utterance=2))
    await asyncio.sleep(0.3)
    assert call.tts.started == [FIRST]  # it could not be heard before the first reply's audio anyway
    call.play(call.session.queued_seconds - 0.9)
    await _until(lambda: call.tts.started == [FIRST, THIRD])


async def test_a_barge_in_drops_the_sentences_not_yet_made(call: Call) -> None:
    call.pipeline.put(BotText(text=f"{FIRST} {SECOND}", utterance=1))
    call.pipeline.put(BotText(text=THIRD, utterance=1))
    await _until(lambda: call.session.queued_seconds > 3.0)
    call.pipeline.put(Interruption())
    await _until(lambda: any(isinstance(frame, Interruption) for frame in call.out))
    assert call.session.queued_seconds == 0.0  # flushed
    await asyncio.sleep(0.3)
    assert call.tts.started == [FIRST]  # the second and third sentences were never made
