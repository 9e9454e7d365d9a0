"""Turn-taking with the real engines (Silero VAD, Whisper tiny.en, espeak-ng speech at 8 kHz): the end-of-turn hold
adapts to what the caller said, and backchannels or line noise over the bot do not interrupt it while a request
does. Audio is fed frame by frame; where a verdict of the recogniser matters the test waits for it, so nothing
depends on how fast the machine decodes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from opsdesk.voice.pipeline.frames import (
    Frame,
    InputAudio,
    Interruption,
    TranscriptFinal,
)
from opsdesk.voice.pipeline.processor import Pipeline
from opsdesk.voice.pipeline.processors import AsrProcessor, CallState, VadProcessor
from opsdesk.voice.pipeline.turns import TurnHold, is_backchannel, sounds_complete
from opsdesk.voice.rtp.session import RtpSession
from opsdesk.voice.speech.asr import WhisperRecognizer
from opsdesk.voice.speech.tts import EspeakSynthesizer
from opsdesk.voice.speech.vad import SileroVad
from tests.voice.speech.conftest import VOICE, WORDS_PER_MINUTE

FRAME_BYTES = 320  # 20 ms at 8 kHz


async def _speech(text: str) -> bytes:
    """espeak-ng's speech at 8 kHz without the silence it ends with (the tests add their own)."""
    synthesizer = EspeakSynthesizer(voice=VOICE, words_per_minute=WORDS_PER_MINUTE, output_rate=8000)
    samples = np.frombuffer(b"".join([chunk async for chunk in synthesizer.synthesize(text)]), dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)
    return samples[: int(loud[-1]) + 1].tobytes() if loud.size else samples.tobytes()


def _silence(seconds: float) -> bytes:
    return bytes(2 * round(seconds * 8000))


class Call:
    """A call's VAD and ASR stages over a real (unopened) RTP session holding the bot's queued reply."""

    def __init__(self, recognizer: WhisperRecognizer) -> None:
        self.state = CallState()
        self.media = RtpSession(
            remote=("127.0.0.1", 9), codec=0, dtmf_payload_type=None, on_audio=lambda _: None, on_dtmf=lambda _: None
        )
        self.vad = VadProcessor(SileroVad(8000), self.state, audio=self.media, recognizer=recognizer)
        self.asr = AsrProcessor(recognizer, self.state)
        self.out: list[Frame] = []
        self.pipeline = Pipeline([self.vad, self.asr], sink=self.out.append)

    async def feed(self, pcm: bytes) -> None:
        for offset in range(0, len(pcm) - FRAME_BYTES + 1, FRAME_BYTES):
            self.pipeline.put(InputAudio(pcm=pcm[offset : offset + FRAME_BYTES], sample_rate=8000))
            await asyncio.sleep(0)

    async def silence_until(self, condition: Callable[[], bool], limit: float = 3.0) -> float:
        """Feeds silence a frame at a time, each handled by the VAD before the next, until `condition`; the
        seconds fed."""
        fed = 0.0
        while not condition() and fed < limit:
            await self.feed(_silence(0.02))
            await self.until(lambda: not self.vad._queue)
            await asyncio.sleep(0)
            fed += 0.02
        return fed

    async def until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():  # the stages have no event to wait on: poll
            if loop.time() > deadline:
                raise TimeoutError("the condition was not met")
            await asyncio.sleep(0.01)

    def count(self, kind: type[Frame]) -> int:
        return sum(isinstance(frame, kind) for frame in self.out)

    async def settled(self) -> None:
        """Until every stage has worked through its queue (the recogniser included)."""
        await self.until(lambda: all(not stage._queue and stage._current is None for stage in (self.vad, self.asr)))
        await asyncio.sleep(0.05)


def test_phrases_that_sound_finished_and_backchannels() -> None:
    assert sounds_complete("Where is my new card?")
    assert sounds_complete("I lost my card.")
    assert not sounds_complete("My card number is")
    assert not sounds_complete("four zero one one")  # a number read out in groups: more is coming
    assert not sounds_complete("I want to, um")
    assert not sounds_complete("")
    for heard in ("Mm-hm.", "Uh-huh", "Okay.", "Right, right.", "", "M. H. M. H.", "A-a-a-a-a-", "Uh, uh, uh,", "x"):
        assert is_backchannel(heard), heard
    for heard in ("Stop, I want to talk to a person.", "Yes", "No, the other card", "Am I", "Ma'am", "5", "X ray"):
        assert not is_backchannel(heard), heard


def test_the_hold_learns_the_callers_pauses_and_starts_afresh_per_call() -> None:
    hold = TurnHold(base_seconds=0.6, long_seconds=1.1)
    assert hold.seconds(0) == pytest.approx(0.6)
    hold.resumed_after(0.1)  # a gap between words, not a pause
    assert hold.seconds(0) == pytest.approx(0.6)
    hold.resumed_after(0.55)  # this caller pauses half a second inside a sentence
    assert hold.seconds(0) == pytest.approx(0.7)
    hold.resumed_after(3.0)
    assert hold.seconds(0) == pytest.approx(1.1)  # never beyond the long hold
    hold.judged(4, complete=True)
    assert hold.seconds(4) == pytest.approx(0.3)
    assert hold.seconds(5) == pytest.approx(1.1)  # a verdict counts only for its own pause
    assert TurnHold().seconds(0) == pytest.approx(0.6)  # the next call's caller starts from the base


async def test_a_finished_question_ends_the_turn_early_and_its_pause_decode_is_the_transcript(
    whisper_tiny: WhisperRecognizer,
) -> None:
    call = Call(whisper_tiny)
    call.pipeline.start()
    try:
        await call.feed(_silence(0.3) + await _speech("Where is my new card?"))
        await call.silence_until(lambda: call.vad.paused() != 0)
        await call.until(lambda: call.state.turn is not None and call.state.turn.verdict is not None)
        assert call.state.turn is not None and call.state.turn.verdict == (1, True)
        await call.silence_until(lambda: not call.vad._speaking)
        await call.until(lambda: call.count(TranscriptFinal) == 1)
        heard = next(frame for frame in call.out if isinstance(frame, TranscriptFinal))
        assert "card" in heard.text.lower()
        assert call.asr.reused == 1  # no second decode after the end of the turn
        held = [timing.seconds for timing in call.pipeline.timings if timing.stage == "end_of_turn"]
        assert held and held[0] < 0.6  # shorter than the base hold
    finally:
        await call.pipeline.stop()


async def test_a_phrase_stopped_midway_holds_the_turn_open_longer(whisper_tiny: WhisperRecognizer) -> None:
    call = Call(whisper_tiny)
    call.pipeline.start()
    try:
        await call.feed(_silence(0.3) + await _speech("I lost my card and"))
        await call.silence_until(lambda: call.vad.paused() != 0)
        await call.until(lambda: call.state.turn is not None and call.state.turn.verdict is not None)
        assert call.state.turn is not None and call.state.turn.verdict == (1, False)
        await call.silence_until(lambda: not call.vad._speaking)
        held = [timing.seconds for timing in call.pipeline.timings if timing.stage == "end_of_turn"]
        assert held and held[0] > 1.0  # longer than the base hold: the caller was mid-sentence
    finally:
        await call.pipeline.stop()


async def _over_the_bot(recognizer: WhisperRecognizer, audio: bytes) -> Call:
    call = Call(recognizer)
    call.state.bot_speaking = True
    call.media.enqueue(_silence(5.0))  # the bot's reply, queued to play
    call.pipeline.start()
    await call.feed(_silence(0.3) + audio + _silence(1.5))
    await call.settled()
    await call.pipeline.stop()
    return call


async def test_a_backchannel_over_the_bot_does_not_interrupt_it(whisper_tiny: WhisperRecognizer) -> None:
    call = await _over_the_bot(whisper_tiny, await _speech("okay") + _silence(1.0) + await _speech("uh-huh"))
    assert call.count(Interruption) == 0
    assert call.media.queued_seconds == pytest.approx(5.0)  # nothing of the reply dropped
    assert not call.media._held  # and it plays on
    assert call.vad.backchannels == 2
    assert call.count(TranscriptFinal) == 0


async def test_line_noise_over_the_bot_does_not_interrupt_it(whisper_tiny: WhisperRecognizer) -> None:
    noise = (np.random.default_rng(7).normal(0, 1500, 4000)).astype("<i2").tobytes()  # 0.5 s of hiss
    call = await _over_the_bot(whisper_tiny, noise)
    assert call.count(Interruption) == 0
    assert call.media.queued_seconds == pytest.approx(5.0)
    assert not call.media._held


async def test_a_request_over_the_bot_interrupts_it_and_is_heard(whisper_tiny: WhisperRecognizer) -> None:
    call = await _over_the_bot(whisper_tiny, await _speech("Stop, I want to talk to a person."))
    assert call.count(Interruption) == 1
    assert call.media.queued_seconds == 0.0  # the bot's queued audio dropped
    assert not call.media._held
    heard = " ".join(frame.text for frame in call.out if isinstance(frame, TranscriptFinal)).lower()
    assert "person" in heard


async def test_a_short_no_over_the_bot_interrupts_it(whisper_tiny: WhisperRecognizer) -> None:
    call = await _over_the_bot(whisper_tiny, await _speech("No."))
    assert call.count(Interruption) == 1
    assert call.media.queued_seconds == 0.0
