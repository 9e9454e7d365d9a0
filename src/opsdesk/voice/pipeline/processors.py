"""The stages of a call: VAD (turns and barge-in), ASR, TTS, and the media output with its flush.

The dialogue stage is the solution's (a flow); `EchoDialogue` here is the stand-in the gateway uses until one is
configured: it greets, says back what it heard (or plays the caller's own words when there is no recogniser), and
asks for a person when the caller presses 0.
"""

from __future__ import annotations

import math
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
    SpeechStarted,
    SpeechStopped,
    TranscriptFinal,
    Transfer,
)
from opsdesk.voice.pipeline.interfaces import SpeechRecognizer, SpeechSynthesizer, VoiceActivityDetector
from opsdesk.voice.pipeline.processor import FrameProcessor

TELEPHONE_RATE = 8000


@dataclass(slots=True)
class CallState:
    """What several stages of one call share: whether the bot's audio is playing, and the reply counter."""

    bot_speaking: bool = False
    utterance: int = 0


class AudioSink(Protocol):
    """Where the bot's 8 kHz audio goes (the call's RTP session)."""

    def enqueue(self, pcm: bytes) -> None: ...

    def flush(self) -> float: ...

    def when_idle(self, callback: Callable[[], None]) -> None: ...


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


class VadProcessor(FrameProcessor):
    """Caller audio in; SpeechStarted / SpeechStopped (with the utterance) out; Interruption when the caller speaks
    over the bot. Audio frames stop here; every other frame passes."""

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
    ) -> None:
        super().__init__("vad")
        self.detector = detector
        self.state = state
        self.threshold = threshold
        self.start_seconds = start_seconds
        self.stop_seconds = stop_seconds
        self.max_utterance_seconds = max_utterance_seconds
        self._preroll: deque[bytes] = deque(maxlen=max(1, round(preroll_seconds / 0.02)))
        self._resampler: Resampler | None = None
        self._speaking = False
        self._voiced = 0.0
        self._silence = 0.0
        self._utterance = bytearray()

    async def process(self, frame: Frame) -> None:
        if not isinstance(frame, InputAudio):
            if isinstance(frame, EndOfCall):
                self.detector.reset()
            await self.push(frame)
            return
        probability = self.detector.speech_probability(self._for_detector(frame))
        speech = probability >= self.threshold
        if not self._speaking:
            self._preroll.append(frame.pcm)
            self._voiced = self._voiced + frame.duration if speech else 0.0
            if self._voiced >= self.start_seconds:
                self._speaking, self._silence = True, 0.0
                self._utterance = bytearray(b"".join(self._preroll))
                self._preroll.clear()
                await self.push(SpeechStarted())
                if self.state.bot_speaking:
                    await self.push(Interruption())
            return
        self._utterance += frame.pcm
        self._silence = 0.0 if speech else self._silence + frame.duration
        too_long = len(self._utterance) / (2 * frame.sample_rate) >= self.max_utterance_seconds
        if self._silence >= self.stop_seconds or too_long:
            self._speaking, self._voiced = False, 0.0
            utterance, self._utterance = bytes(self._utterance), bytearray()
            await self.push(SpeechStopped(pcm=utterance, sample_rate=frame.sample_rate))

    def _for_detector(self, frame: InputAudio) -> bytes:
        if self.detector.sample_rate == frame.sample_rate:
            return frame.pcm
        if self._resampler is None:
            self._resampler = Resampler(frame.sample_rate, self.detector.sample_rate)
        return self._resampler.process(np.frombuffer(frame.pcm, dtype="<i2")).tobytes()


class AsrProcessor(FrameProcessor):
    """SpeechStopped in (passed on), TranscriptFinal out when the recogniser heard words."""

    def __init__(self, recognizer: SpeechRecognizer) -> None:
        super().__init__("asr")
        self.recognizer = recognizer

    async def process(self, frame: Frame) -> None:
        await self.push(frame)
        if isinstance(frame, SpeechStopped) and frame.pcm:
            pcm = np.frombuffer(frame.pcm, dtype="<i2")
            if self.recognizer.sample_rate != frame.sample_rate:
                pcm = resample(pcm, frame.sample_rate, self.recognizer.sample_rate)
            text = (await self.recognizer.transcribe(pcm.tobytes())).strip()
            if text:
                await self.push(TranscriptFinal(text=text))


class TtsProcessor(FrameProcessor):
    """BotText in, OutputAudio chunks out as the engine streams them; an interruption cancels the synthesis."""

    interruptible = True

    def __init__(self, synthesizer: SpeechSynthesizer) -> None:
        super().__init__("tts")
        self.synthesizer = synthesizer

    async def process(self, frame: Frame) -> None:
        if not isinstance(frame, BotText):
            await self.push(frame)
            return
        chunks = self.synthesizer.synthesize(frame.text)
        try:
            async for chunk in chunks:
                rate = self.synthesizer.sample_rate
                await self.push(OutputAudio(pcm=chunk, sample_rate=rate, utterance=frame.utterance))
        finally:  # on barge-in the engine stops now, not when its generator is collected
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()


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

    def _telephone(self, frame: OutputAudio) -> bytes:
        if frame.sample_rate == TELEPHONE_RATE:
            return frame.pcm
        samples = np.frombuffer(frame.pcm, dtype="<i2")
        if frame.sample_rate % TELEPHONE_RATE:
            # e.g. 22,050 Hz: a streaming filter would run at the 3.5 MHz common rate; convert each chunk whole
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
