"""Audio for the voice desk: G.711 codecs, sample-rate conversion, WAV files (numpy arrays of int16 inside)."""

from opsdesk.voice.audio.g711 import (
    DECODERS,
    ENCODERS,
    PCMA,
    PCMU,
    SILENCE,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)
from opsdesk.voice.audio.resample import Resampler, resample, to_int16
from opsdesk.voice.audio.wav import Audio, WavError, decode_wav, encode_wav, read_wav, write_wav

__all__ = [
    "DECODERS",
    "ENCODERS",
    "PCMA",
    "PCMU",
    "SILENCE",
    "Audio",
    "Resampler",
    "WavError",
    "alaw_decode",
    "alaw_encode",
    "decode_wav",
    "encode_wav",
    "read_wav",
    "resample",
    "to_int16",
    "ulaw_decode",
    "ulaw_encode",
    "write_wav",
]
