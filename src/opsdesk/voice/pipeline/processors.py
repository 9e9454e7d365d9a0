"""The stages of a call: VAD (turns and barge-in), ASR, TTS, and the media output with its flush.

The dialogue stage is the solution's (a flow); `EchoDialogue` here is the stand-in the gateway uses until one is
configured: it greets, says back what it heard (or plays the caller's own words when there is no recogniser), and
asks for a person when the caller presses 0.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from opsdesk.voice.audio import Resampler, resample
from opsdesk.voice.pipeline.frames import (
    BotStartedSpeaking,
    BotStoppedSpeaking,
    BotText,
    CallStarted,
    Dtmf,
    EndOfCall,
    Frame,
    Hangup,
    InputAudio,
    Interruption,
    OutputAudio,
    SpeechPaused,
    SpeechStarted,
    SpeechStopped,
    TranscriptFinal,
    Transfer,
)
from opsdesk.voice.pipeline.interfaces import SpeechRecognizer, SpeechSynthesizer, VoiceActivityDetector
from opsdesk.voice.pipeline.processor import FrameProcessor, StageTiming
from opsdesk.voice.pipeline.turns import TurnHold, is_backchannel, sounds_complete

TELEPHONE_RATE = 8000


@dataclass(slots=True)
class CallState:
    """What several stages of one call share: whether the bot's audio is playing, and the reply counter."""

    bot_speaking: bool = False
    utterance: int = 0
    turn: TurnHold | None = None  # the caller's end-of-turn hold (set by the VAD stage)
    paused: Callable[[], int] = lambda: 0  # the VAD's pause in progress (0: none)


class AudioSink(Protocol):
    """Where the bot's 8 kHz audio goes (the call's RTP session)."""

    def enqueue(self, pcm: bytes) -> None: ...

    def flush(self) -> float: ...

    def hold(self, on: bool) -> None: ...

    def when_idle(self, callback: Callable[[], None]) -> None: ...

    @property
    def queued_seconds(self) -> float:
        """Seconds of audio queued and not yet played."""
        ...


class EnergyDetector:
    """A voice activity detector by signal level alone: always available, no model (a `VoiceActivityDetector`)."""

    sample_rate = TELEPHONE_RATE

    def __init__(self, threshold_dbfs: float = -38.0) -> None:
        self.threshold = 32768 * 10 ** (threshold_dbfs / 20)

    def speech_probability(self, pcm: bytes) -> float:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        if samples.size == 0:
            return 0.0
        return 1.0 if math.sqrt(float(np.mean(samples * samples))) >= self.threshold else 0.0

    def reset(self) -> None:
        """Nothing to forget."""


class AudioHold(Protocol):
    """What the VAD needs of the call's audio out to pause the bot while it checks overlapping caller speech."""

    def hold(self, on: bool) -> None: ...

    def flush(self) -> float: ...


class VadProcessor(FrameProcessor):
    """Caller audio in; SpeechStarted, SpeechPaused (the utterance so far, after a short silence) and SpeechStopped
    (the utterance, trimmed to its speech) out; the end of turn waits for the adaptive hold (`turns.TurnHold`).
    Caller speech over the bot pauses the bot's audio (`audio`) at once and becomes an Interruption when confirmed
    (long enough, or words that are not a backchannel by `recognizer`); otherwise the bot resumes. Without `audio`
    or `recognizer` any speech over the bot interrupts at once. Audio frames stop here; every other frame passes."""

    def __init__(
        self,
        detector: VoiceActivityDetector,
        state: CallState,
        *,
        threshold: float = 0.5,
        start_seconds: float = 0.06,
        stop_seconds: float = 0.6,
        preroll_seconds: float = 0.2,
        max_utterance_seconds: float = 20.0,
        hold: TurnHold | None = None,
        audio: AudioHold | None = None,
        recognizer: SpeechRecognizer | None = None,
        confirm_seconds: float = 1.0,
    ) -> None:
        super().__init__("vad")
        self.detector = detector
        self.state = state
        self.threshold = threshold
        self.start_seconds = start_seconds
        self.turn = hold or TurnHold(base_seconds=stop_seconds)
        self.state.turn, self.state.paused = self.turn, self.paused
        self.max_utterance_seconds = max_utterance_seconds
        self.audio = audio
        self.recognizer = recognizer
        self.confirm_seconds = confirm_seconds
        self.backchannels = 0
        self._preroll: deque[bytes] = deque(maxlen=max(1, round(preroll_seconds / 0.02)))
        self._resampler: Resampler | None = None
        self._speaking = False
        self._voiced = 0.0
        self._silence = 0.0
        self._utterance = bytearray()
        self._voiced_end = 0  # bytes of the utterance up to its last speech frame
        self._pauses = 0  # pauses numbered over the call
        self._pause = 0  # the number of the pause in progress (0: none)
        self._overlap: float | None = None  # seconds of speech heard over the bot, while unconfirmed

    @property
    def stop_seconds(self) -> float:
        return self.turn.base_seconds

    async def process(self, frame: Frame) -> None:
        if not isinstance(frame, InputAudio):
            if isinstance(frame, EndOfCall):
                self.detector.reset()
                if self._overlap is not None and self.audio is not None:
                    self.audio.hold(False)
            await self.push(frame)
            return
        probability = self.detector.speech_probability(self._for_detector(frame))
        speech = probability >= self.threshold
        if not self._speaking:
            self._preroll.append(frame.pcm)
            self._voiced = self._voiced + frame.duration if speech else 0.0
            if self._voiced >= self.start_seconds:
                self._speaking, self._silence, self._pause = True, 0.0, 0
                self._utterance = bytearray(b"".join(self._preroll))
                self._voiced_end = len(self._utterance)
                self._preroll.clear()
                await self.push(SpeechStarted())
                if self.state.bot_speaking:
                    await self._overlap_began()
            return
        self._utterance += frame.pcm
        if speech:
            self.turn.resumed_after(self._silence)
            self._silence, self._pause, self._voiced_end = 0.0, 0, len(self._utterance)
            if self._overlap is not None:
                self._overlap += frame.duration
                if self._overlap >= self.confirm_seconds:
                    await self._interrupt()
        else:
            self._silence += frame.duration
            if not self._pause and self._silence >= self.turn.pause_seconds and self._overlap is None:
                self._pauses += 1
                self._pause = self._pauses
                await self.push(SpeechPaused(pcm=self._spoken(frame), sample_rate=frame.sample_rate, pause=self._pause))
        too_long = len(self._utterance) / (2 * frame.sample_rate) >= self.max_utterance_seconds
        if self._silence >= self.turn.seconds(self._pause) or too_long:
            await self._end_turn(frame, too_long)

    def paused(self) -> int:
        """The number of the pause in progress (0 when the caller speaks or no turn is open)."""
        return self._pause

    async def _end_turn(self, frame: InputAudio, too_long: bool) -> None:
        utterance = bytes(self._utterance) if too_long else self._spoken(frame)
        self._speaking, self._voiced, self._pause = False, 0.0, 0
        self._utterance = bytearray()
        if self._overlap is not None:  # short speech over the bot: a backchannel, line noise, or a short request
            if await self._only_backchannel(utterance, frame.sample_rate):
                self._overlap = None
                self.backchannels += 1
                if self.audio is not None:
                    self.audio.hold(False)  # the bot goes on where it stopped
                await self.push(SpeechStopped(pcm=b"", sample_rate=frame.sample_rate))  # no turn: nothing to hear
                return
            await self._interrupt()
        self.record_timing(StageTiming("end_of_turn", "InputAudio", "SpeechStopped", self._silence))
        await self.push(SpeechStopped(pcm=utterance, sample_rate=frame.sample_rate))

    def _spoken(self, frame: InputAudio) -> bytes:
        """The utterance up to its last speech, plus a pause's worth of silence (the same bytes at a pause and at
        the end of the turn when the caller said nothing in between)."""
        tail = 2 * round(self.turn.pause_seconds * frame.sample_rate)
        return bytes(self._utterance[: self._voiced_end + tail])

    async def _overlap_began(self) -> None:
        if self.audio is None or self.recognizer is None:  # nothing to tell words from a murmur: stop now
            await self.push(Interruption())
            return
        self.audio.hold(True)  # silent at once; dropped or resumed once the speech is confirmed or not
        self._overlap = self._voiced

    async def _interrupt(self) -> None:
        self._overlap = None
        if self.audio is not None:
            self.audio.flush()
            self.audio.hold(False)
        await self.push(Interruption())

    async def _only_backchannel(self, pcm: bytes, rate: int) -> bool:
        assert self.recognizer is not None  # an overlap is only held with a recogniser to check it
        return is_backchannel(await transcribe(self.recognizer, pcm, rate))

    def _for_detector(self, frame: InputAudio) -> bytes:
        if self.detector.sample_rate == frame.sample_rate:
            return frame.pcm
        if self._resampler is None:
            self._resampler = Resampler(frame.sample_rate, self.detector.sample_rate)
        return self._resampler.process(np.frombuffer(frame.pcm, dtype="<i2")).tobytes()


async def transcribe(recognizer: SpeechRecognizer, pcm: bytes, rate: int) -> str:
    """The recogniser's text of PCM16 at `rate` (resampled to the engine's rate)."""
    samples = np.frombuffer(pcm, dtype="<i2")
    if recognizer.sample_rate != rate:
        samples = resample(samples, rate, recognizer.sample_rate)
    return (await recognizer.transcribe(samples.tobytes())).strip()


class AsrProcessor(FrameProcessor):
    """SpeechPaused and SpeechStopped in (passed on), TranscriptFinal out when the recogniser heard words.

    At a pause the utterance so far is decoded while the VAD holds the turn open; the verdict (a complete phrase or
    not) sets the hold, and when the turn ends with no speech since, that decode is the final transcript — the
    caller does not wait for a second one."""

    def __init__(self, recognizer: SpeechRecognizer, state: CallState | None = None) -> None:
        super().__init__("asr")
        self.recognizer = recognizer
        self.state = state
        self.reused = 0  # finals taken from the decode made at the pause
        self._guess: tuple[bytes, str] | None = None

    async def process(self, frame: Frame) -> None:
        await self.push(frame)
        if isinstance(frame, SpeechPaused) and frame.pcm and self.state is not None:
            if self.state.paused() != frame.pause:
                return  # the caller went on speaking, or the turn already ended
            began = time.monotonic()
            text = await transcribe(self.recognizer, frame.pcm, frame.sample_rate)
            self.record_timing(StageTiming("asr_at_pause", "SpeechPaused", "verdict", time.monotonic() - began))
            self._guess = (frame.pcm, text)
            if self.state.turn is not None:
                self.state.turn.judged(frame.pause, sounds_complete(text))
        elif isinstance(frame, SpeechStopped) and frame.pcm:
            guess, self._guess = self._guess, None
            if guess is not None and guess[0] == frame.pcm:
                text = guess[1]
                self.reused += 1
            else:
                text = await transcribe(self.recognizer, frame.pcm, frame.sample_rate)
            if text:
                await self.push(TranscriptFinal(text=text))


class TtsProcessor(FrameProcessor):
    """BotText in, OutputAudio chunks out as the engine makes them; an interruption cancels the synthesis.

    With `backlog` (seconds of the call's audio queued and not yet played) speech is made no faster than it plays:
    the engine is asked for the next sentence only when less than `low_water` seconds are queued, so the later
    sentences of ten answers do not take the cores while other callers' speech is being decoded. A reply that finds
    the line quiet starts at once; one behind a reply still playing is made when that one runs low (it could not be
    heard sooner). A barge-in cancels the wait with the synthesis: the sentences not yet made are never made. The
    engine is told when a text continues the reply that is playing, so it can serve replies that open first."""

    interruptible = True

    def __init__(
        self, synthesizer: SpeechSynthesizer, *, backlog: Callable[[], float] | None = None, low_water: float = 1.0
    ) -> None:
        super().__init__("tts")
        self.synthesizer = synthesizer
        self.backlog = backlog
        self.low_water = low_water
        self.waits = 0  # sentences that waited for the queued audio to run low
        self._playing = 0  # the reply whose audio was pushed last

    async def process(self, frame: Frame) -> None:
        if not isinstance(frame, BotText):
            if isinstance(frame, Interruption):
                self._playing = 0  # what was playing is gone
            await self.push(frame)
            return
        continuing = frame.utterance == self._playing and frame.utterance != 0
        chunks = self.synthesizer.synthesize(frame.text, continuing=continuing)
        try:
            while True:
                await self._until_low()
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                self._playing = frame.utterance
                rate = self.synthesizer.sample_rate
                await self.push(OutputAudio(pcm=chunk, sample_rate=rate, utterance=frame.utterance))
        finally:  # on barge-in the engine stops now, not when its generator is collected
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    async def _until_low(self) -> None:
        """Waits while more than `low_water` seconds of audio are queued (held audio does not drain: still waits)."""
        if self.backlog is None:
            return
        waited = False
        while (queued := self.backlog()) > self.low_water:
            waited = True
            await asyncio.sleep(min(max(queued - self.low_water, 0.02), 0.25))
        if waited:
            self.waits += 1
            self.restart_timing()  # the stage's latency is the engine's, not the wait it chose


class EchoDialogue(FrameProcessor):
    """The stand-in dialogue: greet, echo, transfer on 0. Keeps the keys pressed and what it heard, for the call."""

    interruptible = True

    def __init__(self, state: CallState, *, greeting: str = "", prompt: bytes = b"", transfer_digit: str = "0") -> None:
        super().__init__("dialogue")
        self.state = state
        self.greeting = greeting
        self.prompt = prompt  # 8 kHz PCM16 played when the call starts (a WAV prompt or a tone)
        self.transfer_digit = transfer_digit
        self.echo_audio = True  # without a recogniser: play the caller's words back (the gateway decides)
        self.digits: list[str] = []
        self.heard: list[str] = []
        self.echoed = 0

    async def process(self, frame: Frame) -> None:
        await self.push(frame)
        if isinstance(frame, CallStarted):
            if self.prompt:
                await self._play(self.prompt)
            if self.greeting:
                await self.push(BotText(text=self.greeting, utterance=self._next_utterance()))
        elif isinstance(frame, TranscriptFinal):
            self.heard.append(frame.text)
            await self.push(BotText(text=f"You said: {frame.text}", utterance=self._next_utterance()))
        elif isinstance(frame, SpeechStopped) and frame.pcm and self.echo_audio:
            self.echoed += 1
            await self._play(frame.pcm)  # no recogniser: the caller hears their own words back
        elif isinstance(frame, Dtmf):
            self.digits.append(frame.digit)
            if frame.digit == self.transfer_digit:
                await self.push(Transfer(reason="caller asked for a person"))

    async def _play(self, pcm: bytes) -> None:
        await self.push(OutputAudio(pcm=pcm, sample_rate=TELEPHONE_RATE, utterance=self._next_utterance()))

    def _next_utterance(self) -> int:
        self.state.utterance += 1
        return self.state.utterance


class MediaOutput(FrameProcessor):
    """OutputAudio in, resampled to 8 kHz into the call's RTP; flushes on interruption; signals when the bot starts
    and stops speaking; asks the gateway to hang up or transfer once what is queued has been played."""

    def __init__(
        self,
        sink: AudioSink,
        state: CallState,
        *,
        on_hangup: Callable[[str], None],
        on_transfer: Callable[[str], None],
    ) -> None:
        super().__init__("output")
        self.sink = sink
        self.state = state
        self.on_hangup = on_hangup
        self.on_transfer = on_transfer
        self.flushed_seconds = 0.0
        self._resamplers: dict[int, Resampler] = {}

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, OutputAudio):
            self.sink.enqueue(self._telephone(frame))
            if not self.state.bot_speaking:
                self.state.bot_speaking = True
                await self.push(BotStartedSpeaking(utterance=frame.utterance))
                self.sink.when_idle(lambda: self._idle(frame.utterance))
            return
        if isinstance(frame, Interruption):
            self.flushed_seconds += self.sink.flush()
            self.state.bot_speaking = False
            self._resamplers.clear()
        elif isinstance(frame, Hangup):
            self.sink.when_idle(lambda: self.on_hangup(frame.reason or "bot hung up"))
        elif isinstance(frame, Transfer):
            self.sink.when_idle(lambda: self.on_transfer(frame.reason))
        await self.push(frame)

    @property
    def queued_seconds(self) -> float:
        """The bot's audio not yet played: in the sink, and still on its way through this stage."""
        waiting = sum(frame.duration for frame in self._queue if isinstance(frame, OutputAudio))
        return self.sink.queued_seconds + waiting

    def _telephone(self, frame: OutputAudio) -> bytes:
        if frame.sample_rate == TELEPHONE_RATE:
            return frame.pcm
        samples = np.frombuffer(frame.pcm, dtype="<i2")
        if frame.sample_rate % TELEPHONE_RATE:
            # e.g. 22,050 Hz: converted whole, chunk by chunk, as the synthesizer made it
            return resample(samples, frame.sample_rate, TELEPHONE_RATE).tobytes()
        resampler = self._resamplers.get(frame.sample_rate)
        if resampler is None:
            resampler = self._resamplers[frame.sample_rate] = Resampler(frame.sample_rate, TELEPHONE_RATE)
        return resampler.process(samples).tobytes()

    def _idle(self, utterance: int) -> None:
        if self.state.bot_speaking:
            self.state.bot_speaking = False
            self.enqueue(BotStoppedSpeaking(utterance=utterance))


def tone(frequency: float = 440.0, seconds: float = 0.5, level_dbfs: float = -12.0) -> bytes:
    """A sine tone at 8 kHz as PCM16 (the default prompt when no WAV is configured)."""
    count = round(seconds * TELEPHONE_RATE)
    amplitude = 32767 * 10 ** (level_dbfs / 20)
    samples = amplitude * np.sin(2 * np.pi * frequency * np.arange(count) / TELEPHONE_RATE)
    return np.rint(samples).astype("<i2").tobytes()
