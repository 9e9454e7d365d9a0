"""WAV files to mono 16-bit samples and back.

Reads PCM (8/16/24/32-bit integer, 32-bit float), G.711 μ-law and A-law, and WAVE_FORMAT_EXTENSIBLE wrappers of
those; channels are averaged to mono. Tolerates what streaming writers produce (espeak-ng `--stdout` writes a
data size it cannot know: the data then runs to the end of the file). Writes 16-bit PCM mono.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opsdesk.voice.audio.g711 import alaw_decode, ulaw_decode
from opsdesk.voice.audio.resample import to_int16

Pcm16 = np.ndarray[Any, np.dtype[np.int16]]

_PCM, _FLOAT, _ALAW, _ULAW, _EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


class WavError(ValueError):
    """The bytes are not a WAV file this module can read."""


@dataclass(frozen=True)
class Audio:
    """Mono 16-bit samples and their rate."""

    samples: Pcm16
    rate: int

    @property
    def seconds(self) -> float:
        return self.samples.size / self.rate if self.rate else 0.0


def decode_wav(data: bytes) -> Audio:
    """The mono samples of a WAV file's bytes."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    position, fmt, payload = 12, None, None
    while position + 8 <= len(data):
        chunk_id, size = data[position : position + 4], struct.unpack("<I", data[position + 4 : position + 8])[0]
        body = data[position + 8 : position + 8 + size]  # a size past the end (streamed writers) is cut there
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            payload = body
            break
        position += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16:
        raise WavError("no format chunk")
    if payload is None:
        raise WavError("no data chunk")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID's first two bytes
    if channels < 1 or rate < 1:
        raise WavError(f"bad format: {channels} channels at {rate} Hz")
    width = max(bits // 8, 1)
    usable = len(payload) - len(payload) % (width * channels)
    samples = _samples(tag, bits, payload[:usable])
    if channels > 1:
        samples = to_int16(samples.reshape(-1, channels).astype(np.float64).mean(axis=1))
    return Audio(samples, rate)


def _samples(tag: int, bits: int, payload: bytes) -> Pcm16:
    if tag == _ULAW and bits == 8:
        return ulaw_decode(payload)
    if tag == _ALAW and bits == 8:
        return alaw_decode(payload)
    if tag == _PCM and bits == 16:
        return np.frombuffer(payload, dtype="<i2").astype(np.int16)
    if tag == _PCM and bits == 8:
        return ((np.frombuffer(payload, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if tag == _PCM and bits == 24:
        raw = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3)
        return (raw[:, 1].astype(np.int16) | (raw[:, 2].astype(np.int8).astype(np.int16) << 8)).astype(np.int16)
    if tag == _PCM and bits == 32:
        return (np.frombuffer(payload, dtype="<i4") >> 16).astype(np.int16)
    if tag == _FLOAT and bits == 32:
        return to_int16(np.frombuffer(payload, dtype="<f4").astype(np.float64) * 32767.0)
    raise WavError(f"unsupported WAV encoding: format {tag}, {bits} bits")


def read_wav(path: Path) -> Audio:
    """The mono samples of a WAV file."""
    return decode_wav(Path(path).read_bytes())


def encode_wav(samples: Pcm16, rate: int) -> bytes:
    """A 16-bit PCM mono WAV file's bytes."""
    pcm = np.asarray(samples, dtype="<i2").tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, _PCM, 1, rate, rate * 2, 2, 16, b"data",
        len(pcm),
    )  # fmt: skip
    return header + pcm


def write_wav(path: Path, samples: Pcm16, rate: int) -> None:
    """Writes a 16-bit PCM mono WAV file."""
    Path(path).write_bytes(encode_wav(samples, rate))
