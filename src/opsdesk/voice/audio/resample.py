"""Sample-rate conversion of 16-bit PCM: whole buffers (polyphase, zero-phase) and a streaming converter.

Telephony audio is 8 kHz; the models want 16 kHz; espeak-ng speaks at 22,050 Hz. `resample` converts a whole
buffer with `scipy.signal.resample_poly` (no delay, best quality at the edges). `Resampler` converts a stream frame
by frame with the same kind of filter, keeping its state between frames, so 20 ms frames join without clicks; it
delays the signal by half the filter (under 1 ms for 8 ↔ 16 kHz).
"""

from __future__ import annotations

from math import gcd
from typing import Any

import numpy as np

Pcm16 = np.ndarray[Any, np.dtype[np.int16]]
Floats = np.ndarray[Any, np.dtype[np.float64]]

_KAISER_BETA = 5.0  # resample_poly's default window
_HALF_TAPS_PER_FACTOR = 10


def _ratio(from_rate: int, to_rate: int) -> tuple[int, int]:
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} and {to_rate}")
    common = gcd(from_rate, to_rate)
    return to_rate // common, from_rate // common


def to_int16(samples: np.ndarray[Any, np.dtype[Any]]) -> Pcm16:
    """Rounds and clips float samples in the int16 range."""
    clipped: Pcm16 = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
    return clipped


def resample(pcm: Pcm16, from_rate: int, to_rate: int) -> Pcm16:
    """The whole buffer at `to_rate`."""
    up, down = _ratio(from_rate, to_rate)
    samples = np.asarray(pcm, dtype=np.int16)
    if up == down or samples.size == 0:
        return samples.copy()
    from scipy import signal  # on first use: it pulls scipy.stats, a quarter second of every process's start

    return to_int16(signal.resample_poly(samples.astype(np.float64), up, down))


class Resampler:
    """A stream converter from `from_rate` to `to_rate`: feed frames in order, get the converted samples so far.

    Polyphase: each output sample is one phase of the filter applied to the last inputs, so the work is per output
    sample and tap group, never per sample of the zero-stuffed stream (22,050 → 16,000 Hz would run at 7 MHz).
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._up, self._down = _ratio(from_rate, to_rate)
        if self._up == self._down:
            self._up = self._down = 1  # nothing to convert; `process` copies
        factor = max(self._up, self._down, 2)
        taps = 2 * _HALF_TAPS_PER_FACTOR * factor + 1
        from scipy import signal

        kernel: Floats = signal.firwin(taps, 1.0 / factor, window=("kaiser", _KAISER_BETA)) * self._up
        per_phase = -(-taps // self._up)
        padded = np.zeros(per_phase * self._up)
        padded[:taps] = kernel
        # phases[r, m] is the tap that meets the input m samples back from an output at phase r of the stuffed stream
        self._phases: Floats = padded.reshape(per_phase, self._up).T.copy()
        self._history: Floats = np.zeros(per_phase - 1)
        self._phase = 0  # index, in the upsampled stream, of the next sample to keep

    def process(self, pcm: Pcm16) -> Pcm16:
        """The converted samples of the next frame (their count varies by one when the ratio is not whole)."""
        samples = np.asarray(pcm, dtype=np.int16)
        if self._up == self._down:
            return samples.copy()
        kept_before = self._history.size  # one less than the taps of a phase, so at least one
        inputs = np.concatenate([self._history, samples.astype(np.float64)])
        positions = np.arange(self._phase, samples.size * self._up, self._down)
        nearest = positions // self._up + kept_before
        window = nearest[:, None] - np.arange(self._phases.shape[1])[None, :]
        converted = np.einsum("ij,ij->i", self._phases[positions % self._up], inputs[window])
        self._history = inputs[inputs.size - kept_before :]
        self._phase = (self._phase - samples.size * self._up) % self._down
        return to_int16(converted)

    def reset(self) -> None:
        """Forgets the stream (a new call, or after a pause)."""
        self._history = np.zeros_like(self._history)
        self._phase = 0
